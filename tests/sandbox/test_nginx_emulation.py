"""The nginx emulation's configuration reading and request routing, in-process (no socket, no process)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gloo_nb.sandbox.workloads import (
    MountTable,
    Request,
    WorkloadExit,
    is_nginx,
    make_nginx_handler,
    nginx_tls_contexts,
    nginx_version,
    parse_nginx_config,
)

pytestmark = pytest.mark.unit

BUILTIN = {"/usr/share/nginx/html/index.html": b"<h1>Welcome to nginx!</h1>"}


def fs_with(tmp_path: Path, files: dict[str, str]) -> MountTable:
    """A mount of ``/etc/nginx`` holding ``files`` over the image's index page."""
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    return MountTable([("/etc/nginx", str(tmp_path))], BUILTIN)


def answer(fs: MountTable, path: str, port: int = 80, host: str = "localhost") -> tuple[int, dict[str, str], bytes]:
    handler = make_nginx_handler(parse_nginx_config(fs), fs, "nginx", lambda _line: None)
    resp = handler(Request("GET", path, "HTTP/1.1", [("Host", host)], remote="127.0.0.1:1"), port)
    return resp.status, dict(resp.headers), resp.body


def test_images_and_versions() -> None:
    assert is_nginx("nginx") and is_nginx("nginx:stable") and is_nginx("docker.io/library/nginx:1.27@sha256:ab")
    assert not is_nginx("bitnami/nginx") and not is_nginx("nginx-ingress")
    assert nginx_version("nginx:1.27.3-alpine") == "1.27.3" and nginx_version("nginx:stable") == ""


def test_includes_exact_and_prefix_locations_return_and_redirect(tmp_path: Path) -> None:
    fs = fs_with(tmp_path, {
        "nginx.conf": "events {}\nhttp { include conf.d/*.conf; }\n",
        "conf.d/a.conf": """server {
            listen 8080;
            server_name a.example.com;
            location / { return 200 "prefix $uri"; }
            location = /exact { return 201 'exact'; }
            location /api/ { return 404; }
            location /old { return 301 https://a.example.com/new; }
        }""",
        "conf.d/b.conf": "server { listen 8080 default_server; location / { return 200 'b default'; } }",
    })
    assert answer(fs, "/x", 8080, "a.example.com")[::2] == (200, b"prefix /x")
    assert answer(fs, "/exact", 8080, "a.example.com")[::2] == (201, b"exact")
    status, _, body = answer(fs, "/api/v1", 8080, "a.example.com")
    assert status == 404 and b"<center><h1>404 Not Found</h1></center>" in body
    status, headers, _ = answer(fs, "/old", 8080, "a.example.com")
    assert status == 301 and headers["Location"] == "https://a.example.com/new"
    # an unknown Host goes to the port's default_server
    assert answer(fs, "/", 8080, "other")[::2] == (200, b"b default")


def test_root_index_and_the_stock_configuration(tmp_path: Path) -> None:
    fs = MountTable([], None)
    from gloo_nb.sandbox import workloads

    stock = MountTable([], workloads.NGINX_BUILTIN_FILES)
    [server] = parse_nginx_config(stock)
    assert server.listens[0] == (80, False, False) and server.names == ["localhost"]
    status, headers, body = answer(stock, "/")
    assert status == 200 and headers["Content-Type"] == "text/html" and b"Welcome to nginx!" in body
    assert answer(stock, "/nothing.html")[0] == 404
    with pytest.raises(WorkloadExit) as exc:
        parse_nginx_config(fs)  # no nginx.conf at all
    assert exc.value.code == 1 and 'open() "/etc/nginx/nginx.conf" failed' in exc.value.stderr


def test_mounts_never_leave_their_folder(tmp_path: Path) -> None:
    fs = MountTable([("/etc/nginx/tls/", str(tmp_path / "vol")), ("/etc/nginx", str(tmp_path / "conf"))])
    assert fs.host_path("/etc/nginx/tls/tls.crt") == str(tmp_path / "vol" / "tls.crt")  # longest mount wins
    assert fs.host_path("/etc/nginx/tls/../nginx.conf") == str(tmp_path / "conf" / "nginx.conf")
    assert fs.host_path("/etc/nginx/../../etc/passwd") is None


def test_config_errors_exit_like_nginx(tmp_path: Path) -> None:
    fs = fs_with(tmp_path, {"nginx.conf": "http { server { listen 443 ssl; } }"})
    with pytest.raises(WorkloadExit) as exc:
        parse_nginx_config(fs)
    assert exc.value.code == 1 and 'no "ssl_certificate" is defined' in exc.value.stderr
    fs = fs_with(tmp_path, {"nginx.conf": "http { server { listen 80; }"})
    with pytest.raises(WorkloadExit) as exc:
        parse_nginx_config(fs)
    assert 'nginx: [emerg] unexpected end of file, expecting "}"' in exc.value.stderr
    fs = fs_with(tmp_path, {"nginx.conf": "http { server { listen 443 ssl; ssl_certificate /etc/nginx/tls/c.crt; "
                                          "ssl_certificate_key /etc/nginx/tls/c.key; } }"})
    with pytest.raises(WorkloadExit) as exc:
        nginx_tls_contexts(parse_nginx_config(fs), fs)
    assert exc.value.stderr.startswith('nginx: [emerg] cannot load certificate "/etc/nginx/tls/c.crt"')
