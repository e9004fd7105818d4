/* gloo_nb.models.codec._cyaml: YAML documents built from libyaml's parser events in C.
 *
 * The same loader as _yaml_events.yaml_documents (the reference, in Python), without one Python object
 * per parser event: PyYAML's C parser still hands every event to Python, and building 39 MB of
 * Kubernetes YAML that way costs about 5 s of `gloo-nb translate` on 100,000 routes (issue 13).
 *
 * What it keeps from the Python loader, exactly (tests/models/test_yaml_loaders.py compares the two):
 *   - depth bounded by max_depth (libyaml's own composer recurses in C and crashes on deep input);
 *   - alias expansion bounded by the document's size (10 x its nodes + 100,000);
 *   - scalars resolved and built by the Python callback (PyYAML's SafeLoader resolvers and
 *     constructors: YAML 1.1 typing, one source of truth), plain scalars cached by text;
 *   - merge keys (<<), tags allowed, error wording: errors are raised as the given exception class
 *     with args ("parser", context, problem, line, column), ("reader", reason, value, offset) or
 *     ("problem", text, line, column); the Python wrapper turns them into ParseError messages.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <yaml.h>

#define MAP_TAG "tag:yaml.org,2002:map"
#define SEQ_TAG "tag:yaml.org,2002:seq"

typedef struct {
    PyObject *container; /* list or dict */
    PyObject *anchor;    /* str, or NULL */
    PyObject *key;       /* the pending mapping key, or NULL */
    PyObject *merges;    /* list of dicts to merge at the end, or NULL */
    Py_ssize_t start;    /* `expanded` when the collection started */
} Frame;

typedef struct {
    PyObject_HEAD
    yaml_parser_t parser;
    int parser_ready;
    int done;
    PyObject *source;  /* the bytes libyaml reads (kept alive) */
    PyObject *scalar;  /* callable(tag or None, text, plain) -> value or the merge sentinel */
    PyObject *merge;   /* the merge sentinel */
    PyObject *error;   /* the exception class */
    PyObject *plain;   /* dict: plain scalar text -> value */
    Py_ssize_t plain_limit;
    Py_ssize_t max_depth;
    Frame *stack;
    Py_ssize_t depth;
    Py_ssize_t capacity;
    PyObject *anchors; /* dict: name -> (value, weight) */
    PyObject *root;
    Py_ssize_t document;
    Py_ssize_t nodes;
    Py_ssize_t expanded;
} Documents;

static void frame_clear(Frame *frame) {
    Py_CLEAR(frame->container);
    Py_CLEAR(frame->anchor);
    Py_CLEAR(frame->key);
    Py_CLEAR(frame->merges);
}

static void stack_clear(Documents *self) {
    while (self->depth > 0) {
        self->depth--;
        frame_clear(&self->stack[self->depth]);
    }
}

/* Raise ("problem", text, line, column) at a mark; text is a new reference (or NULL: already raised). */
static void fail(Documents *self, PyObject *text, const yaml_mark_t *mark) {
    self->done = 1;
    if (text == NULL) {
        return;
    }
    PyObject *args = Py_BuildValue("(sNnn)", "problem", text, (Py_ssize_t)mark->line, (Py_ssize_t)mark->column);
    if (args != NULL) {
        PyErr_SetObject(self->error, args);
        Py_DECREF(args);
    }
}

static void parser_failed(Documents *self) {
    yaml_parser_t *p = &self->parser;
    PyObject *args = NULL;
    self->done = 1;
    switch (p->error) {
    case YAML_MEMORY_ERROR:
        PyErr_NoMemory();
        return;
    case YAML_READER_ERROR:
        args = Py_BuildValue("(sznn)", "reader", p->problem, (Py_ssize_t)p->problem_value,
                             (Py_ssize_t)p->problem_offset);
        break;
    default: {
        /* as PyYAML's CParser: the problem's mark when there is a problem, else the context's */
        const yaml_mark_t *mark = p->problem != NULL ? &p->problem_mark : (p->context != NULL ? &p->context_mark : NULL);
        args = Py_BuildValue("(szznn)", "parser", p->context, p->problem,
                             mark != NULL ? (Py_ssize_t)mark->line : (Py_ssize_t)-1,
                             mark != NULL ? (Py_ssize_t)mark->column : (Py_ssize_t)-1);
    }
    }
    if (args != NULL) {
        PyErr_SetObject(self->error, args);
        Py_DECREF(args);
    }
}

/* The callback raised self->error("problem", text): add the event's mark. */
static void add_mark(Documents *self, const yaml_mark_t *mark) {
    self->done = 1;
    if (!PyErr_ExceptionMatches(self->error)) {
        return;
    }
    PyObject *type, *value, *traceback;
    PyErr_Fetch(&type, &value, &traceback);
    PyErr_NormalizeException(&type, &value, &traceback);
    PyObject *args = value != NULL ? PyObject_GetAttrString(value, "args") : NULL;
    if (args != NULL && PyTuple_Check(args) && PyTuple_GET_SIZE(args) == 2) {
        PyObject *text = PyTuple_GET_ITEM(args, 1);
        Py_INCREF(text);
        Py_DECREF(args);
        Py_XDECREF(type);
        Py_XDECREF(value);
        Py_XDECREF(traceback);
        fail(self, text, mark);
        return;
    }
    Py_XDECREF(args);
    PyErr_Restore(type, value, traceback);
}

static PyObject *as_str(const char *text) {
    return PyUnicode_DecodeUTF8(text, (Py_ssize_t)strlen(text), "strict");
}

/* Put a finished value (a new reference, stolen) where it belongs. 0 on success. */
static int attach(Documents *self, PyObject *value, const yaml_mark_t *mark) {
    if (self->depth == 0) {
        Py_XSETREF(self->root, value);
        return 0;
    }
    Frame *top = &self->stack[self->depth - 1];
    if (PyList_CheckExact(top->container)) {
        int failed = PyList_Append(top->container, value);
        Py_DECREF(value);
        return failed;
    }
    if (top->key == NULL) {
        if (PyList_Check(value) || PyDict_Check(value)) {
            Py_DECREF(value);
            fail(self, PyUnicode_FromString("a mapping key must be a scalar"), mark);
            return -1;
        }
        top->key = value;
        return 0;
    }
    int failed = 0;
    if (top->key == self->merge) {
        PyObject *merged = PyList_Check(value) ? value : NULL;
        Py_ssize_t n = merged != NULL ? PyList_GET_SIZE(merged) : 1;
        if (top->merges == NULL && (top->merges = PyList_New(0)) == NULL) {
            Py_DECREF(value);
            return -1;
        }
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *item = merged != NULL ? PyList_GET_ITEM(merged, i) : value;
            if (!PyDict_Check(item)) {
                Py_DECREF(value);
                fail(self, PyUnicode_FromString("a merge key (<<) takes a mapping or a list of mappings"), mark);
                return -1;
            }
        }
        for (Py_ssize_t i = 0; i < n && !failed; i++) {
            failed = PyList_Append(top->merges, merged != NULL ? PyList_GET_ITEM(merged, i) : value);
        }
    } else {
        failed = PyDict_SetItem(top->container, top->key, value);
    }
    Py_DECREF(value);
    Py_CLEAR(top->key);
    return failed;
}

static PyObject *scalar_value(Documents *self, yaml_event_t *event) {
    const char *tag = (const char *)event->data.scalar.tag;
    int plain = event->data.scalar.plain_implicit;
    PyObject *text = PyUnicode_DecodeUTF8((const char *)event->data.scalar.value,
                                          (Py_ssize_t)event->data.scalar.length, "strict");
    if (text == NULL) {
        return NULL;
    }
    int cacheable = tag == NULL && plain;
    if (cacheable) {
        PyObject *cached = PyDict_GetItemWithError(self->plain, text);
        if (cached != NULL) {
            Py_DECREF(text);
            Py_INCREF(cached);
            return cached;
        }
        if (PyErr_Occurred()) {
            Py_DECREF(text);
            return NULL;
        }
    } else if (tag == NULL) {
        return text; /* quoted, no tag: a string */
    }
    PyObject *tag_obj = tag != NULL ? as_str(tag) : Py_NewRef(Py_None);
    if (tag_obj == NULL) {
        Py_DECREF(text);
        return NULL;
    }
    PyObject *value = PyObject_CallFunctionObjArgs(self->scalar, tag_obj, text, plain ? Py_True : Py_False, NULL);
    Py_DECREF(tag_obj);
    if (value == NULL) {
        Py_DECREF(text);
        add_mark(self, &event->start_mark);
        return NULL;
    }
    if (value == self->merge) {
        /* only a mapping key merges; anywhere else `<<` is just text */
        Frame *top = self->depth > 0 ? &self->stack[self->depth - 1] : NULL;
        if (top != NULL && PyDict_CheckExact(top->container) && top->key == NULL) {
            Py_DECREF(text);
            return value;
        }
        Py_DECREF(value);
        return text;
    }
    if (cacheable && PyDict_GET_SIZE(self->plain) < self->plain_limit) {
        if (PyDict_SetItem(self->plain, text, value) < 0) {
            Py_DECREF(text);
            Py_DECREF(value);
            return NULL;
        }
    }
    Py_DECREF(text);
    return value;
}

static int start_collection(Documents *self, yaml_event_t *event, int mapping) {
    const char *tag = (const char *)(mapping ? event->data.mapping_start.tag : event->data.sequence_start.tag);
    const char *anchor = (const char *)(mapping ? event->data.mapping_start.anchor : event->data.sequence_start.anchor);
    self->nodes++;
    self->expanded++;
    if (tag != NULL && strcmp(tag, "!") != 0 && strcmp(tag, mapping ? MAP_TAG : SEQ_TAG) != 0) {
        fail(self, PyUnicode_FromFormat("unsupported tag %s", tag), &event->start_mark);
        return -1;
    }
    if (self->depth >= self->max_depth) {
        fail(self, PyUnicode_FromFormat("nested deeper than %zd levels", self->max_depth), &event->start_mark);
        return -1;
    }
    if (self->depth == self->capacity) {
        Py_ssize_t capacity = self->capacity ? self->capacity * 2 : 32;
        Frame *stack = PyMem_Realloc(self->stack, (size_t)capacity * sizeof(Frame));
        if (stack == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        self->stack = stack;
        self->capacity = capacity;
    }
    PyObject *container = mapping ? PyDict_New() : PyList_New(0);
    if (container == NULL) {
        return -1;
    }
    PyObject *anchor_obj = NULL;
    if (anchor != NULL && (anchor_obj = as_str(anchor)) == NULL) {
        Py_DECREF(container);
        return -1;
    }
    Frame *frame = &self->stack[self->depth++];
    frame->container = container;
    frame->anchor = anchor_obj;
    frame->key = NULL;
    frame->merges = NULL;
    frame->start = self->expanded;
    return 0;
}

static int remember(Documents *self, PyObject *anchor, PyObject *value, Py_ssize_t weight) {
    PyObject *entry = Py_BuildValue("(On)", value, weight);
    if (entry == NULL) {
        return -1;
    }
    int failed = PyDict_SetItem(self->anchors, anchor, entry);
    Py_DECREF(entry);
    return failed;
}

static int end_collection(Documents *self, yaml_event_t *event) {
    Frame frame = self->stack[--self->depth];
    PyObject *value = frame.container;
    int failed = 0;
    if (frame.merges != NULL) {
        Py_ssize_t n = PyList_GET_SIZE(frame.merges);
        for (Py_ssize_t i = 0; i < n && !failed; i++) {
            PyObject *merged = PyList_GET_ITEM(frame.merges, i);
            PyObject *k, *v;
            Py_ssize_t pos = 0;
            while (!failed && PyDict_Next(merged, &pos, &k, &v)) {
                failed = PyDict_SetDefault(value, k, v) == NULL;
            }
        }
    }
    if (!failed && frame.anchor != NULL) {
        failed = remember(self, frame.anchor, value, self->expanded - frame.start + 1);
    }
    frame.container = NULL; /* handed on to attach() */
    frame_clear(&frame);
    if (failed) {
        Py_DECREF(value);
        return -1;
    }
    return attach(self, value, &event->start_mark);
}

/* One event: 1 = a document is complete (*out set), 0 = go on, -1 = error, 2 = stream end. */
static int handle(Documents *self, yaml_event_t *event, PyObject **out) {
    switch (event->type) {
    case YAML_SCALAR_EVENT: {
        self->nodes++;
        self->expanded++;
        PyObject *value = scalar_value(self, event);
        if (value == NULL) {
            return -1;
        }
        if (event->data.scalar.anchor != NULL) {
            PyObject *anchor = as_str((const char *)event->data.scalar.anchor);
            if (anchor == NULL || remember(self, anchor, value, 1) < 0) {
                Py_XDECREF(anchor);
                Py_DECREF(value);
                return -1;
            }
            Py_DECREF(anchor);
        }
        return attach(self, value, &event->start_mark);
    }
    case YAML_MAPPING_START_EVENT:
        return start_collection(self, event, 1);
    case YAML_SEQUENCE_START_EVENT:
        return start_collection(self, event, 0);
    case YAML_MAPPING_END_EVENT:
    case YAML_SEQUENCE_END_EVENT:
        return end_collection(self, event);
    case YAML_ALIAS_EVENT: {
        PyObject *anchor = as_str((const char *)event->data.alias.anchor);
        if (anchor == NULL) {
            return -1;
        }
        PyObject *entry = PyDict_GetItemWithError(self->anchors, anchor);
        if (entry == NULL) {
            if (!PyErr_Occurred()) {
                fail(self, PyUnicode_FromFormat("found undefined alias %R", anchor), &event->start_mark);
            }
            Py_DECREF(anchor);
            return -1;
        }
        Py_DECREF(anchor);
        PyObject *value = PyTuple_GET_ITEM(entry, 0);
        self->expanded += PyLong_AsSsize_t(PyTuple_GET_ITEM(entry, 1));
        if (self->expanded > 10 * self->nodes + 100000) {
            fail(self, PyUnicode_FromString("aliases expand the document to more than ten times its size; "
                                            "write the repeated parts out"), &event->start_mark);
            return -1;
        }
        Py_INCREF(value);
        return attach(self, value, &event->start_mark);
    }
    case YAML_DOCUMENT_START_EVENT:
        self->document++;
        PyDict_Clear(self->anchors);
        self->nodes = self->expanded = 0;
        Py_CLEAR(self->root);
        return 0;
    case YAML_DOCUMENT_END_EVENT:
        *out = Py_BuildValue("(nO)", self->document, self->root != NULL ? self->root : Py_None);
        Py_CLEAR(self->root);
        return *out == NULL ? -1 : 1;
    case YAML_STREAM_END_EVENT:
        return 2;
    default:
        return 0;
    }
}

static PyObject *Documents_next(Documents *self) {
    if (self->done) {
        return NULL;
    }
    for (;;) {
        yaml_event_t event;
        if (!yaml_parser_parse(&self->parser, &event)) {
            parser_failed(self);
            return NULL;
        }
        PyObject *out = NULL;
        int state = handle(self, &event, &out);
        yaml_event_delete(&event);
        if (state == 0) {
            continue;
        }
        if (state != 1) {
            self->done = 1;
            stack_clear(self);
            Py_CLEAR(self->root);
            PyDict_Clear(self->anchors);
            return NULL;
        }
        return out;
    }
}

static int Documents_init(Documents *self, PyObject *args, PyObject *kwds) {
    static char *keywords[] = {"source", "is_text", "scalar", "merge", "error", "max_depth", "plain_limit", NULL};
    PyObject *source, *scalar, *merge, *error;
    int is_text;
    Py_ssize_t max_depth, plain_limit;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "SpOOOnn", keywords, &source, &is_text, &scalar, &merge, &error,
                                     &max_depth, &plain_limit)) {
        return -1;
    }
    if (self->parser_ready) {
        PyErr_SetString(PyExc_RuntimeError, "Documents is initialised once");
        return -1;
    }
    if (!yaml_parser_initialize(&self->parser)) {
        PyErr_NoMemory();
        return -1;
    }
    self->parser_ready = 1;
    self->source = Py_NewRef(source);
    self->scalar = Py_NewRef(scalar);
    self->merge = Py_NewRef(merge);
    self->error = Py_NewRef(error);
    self->plain = PyDict_New();
    self->anchors = PyDict_New();
    if (self->plain == NULL || self->anchors == NULL) {
        return -1;
    }
    self->max_depth = max_depth;
    self->plain_limit = plain_limit;
    self->document = -1;
    yaml_parser_set_input_string(&self->parser, (const unsigned char *)PyBytes_AS_STRING(source),
                                 (size_t)PyBytes_GET_SIZE(source));
    if (is_text) {
        /* a str was encoded as UTF-8 by the caller; PyYAML's CParser does the same */
        yaml_parser_set_encoding(&self->parser, YAML_UTF8_ENCODING);
    }
    return 0;
}

static void Documents_dealloc(Documents *self) {
    stack_clear(self);
    PyMem_Free(self->stack);
    if (self->parser_ready) {
        yaml_parser_delete(&self->parser);
    }
    Py_XDECREF(self->root);
    Py_XDECREF(self->anchors);
    Py_XDECREF(self->plain);
    Py_XDECREF(self->error);
    Py_XDECREF(self->merge);
    Py_XDECREF(self->scalar);
    Py_XDECREF(self->source);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMemberDef Documents_members[] = {
    {"document", T_PYSSIZET, offsetof(Documents, document), READONLY,
     PyDoc_STR("Index of the document being read (-1 before the first).")},
    {NULL, 0, 0, 0, NULL},
};

static PyTypeObject DocumentsType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "gloo_nb.models.codec._cyaml.Documents",
    .tp_doc = PyDoc_STR("Documents(source, is_text, scalar, merge, error, max_depth, plain_limit): "
                        "an iterator of (index, value) for each YAML document of source (bytes)."),
    .tp_basicsize = sizeof(Documents),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Documents_init,
    .tp_dealloc = (destructor)Documents_dealloc,
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)Documents_next,
    .tp_members = Documents_members,
};

static struct PyModuleDef cyaml_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "gloo_nb.models.codec._cyaml",
    .m_doc = "YAML documents built from libyaml's parser events in C (see _yaml_events.py for the reference).",
    .m_size = -1,
};

PyMODINIT_FUNC PyInit__cyaml(void) {
    if (PyType_Ready(&DocumentsType) < 0) {
        return NULL;
    }
    PyObject *module = PyModule_Create(&cyaml_module);
    if (module == NULL) {
        return NULL;
    }
    if (PyModule_AddObject(module, "Documents", Py_NewRef((PyObject *)&DocumentsType)) < 0) {
        Py_DECREF(&DocumentsType);
        Py_DECREF(module);
        return NULL;
    }
    if (PyModule_AddStringConstant(module, "LIBYAML_VERSION", yaml_get_version_string()) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
