"""The one C extension: YAML documents built over libyaml (``gloo_nb/models/codec/_cyaml.c``).

Everything else is in ``pyproject.toml``. The extension is optional: where no C compiler or libyaml's
headers (Debian's ``libyaml-dev``) exist, the install goes on and gloo_nb reads YAML with its Python
loader, about five times slower on large inputs (``make test`` installs both, see scripts/system-deps.sh).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "gloo_nb.models.codec._cyaml",
            sources=["gloo_nb/models/codec/_cyaml.c"],
            libraries=["yaml"],
            extra_compile_args=["-O2"],
            optional=True,
        )
    ]
)
