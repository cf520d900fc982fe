"""The package as shipped: stubs cover the API, docstrings, install layout."""

import ast
import os
import subprocess
import sys

import pytest

import sigdump
from conftest import BIN_DIR

PKG = os.path.dirname(sigdump.__file__)


def stub_names(name):
    tree = ast.parse(open(os.path.join(PKG, name)).read())
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.ImportFrom):
            names.update(a.asname or a.name for a in node.names)
        elif isinstance(node, ast.AnnAssign):
            names.add(node.target.id)
    return names


def test_stubs_cover_the_public_api():
    assert set(sigdump.__all__) <= stub_names("__init__.pyi")
    assert {"Client", "Subscription", "default_socket", "check_trusted"} <= stub_names(
        "client.pyi")
    assert os.path.exists(os.path.join(PKG, "py.typed"))


def test_public_callables_have_docstrings():
    for name in sigdump.__all__:
        obj = getattr(sigdump, name)
        if callable(obj):
            assert obj.__doc__, name
    for cls in (sigdump.Dump, sigdump.CompareResult, sigdump.Client, sigdump.Tensor):
        for attr, value in vars(cls).items():
            if not attr.startswith("_") and callable(value):
                assert value.__doc__, "%s.%s" % (cls.__name__, attr)


@pytest.mark.parametrize("prefix", ["/usr", "/usr/local"])
def test_cmake_install_puts_it_where_python_looks(tmp_path, prefix):
    build = os.path.dirname(BIN_DIR)
    dest = tmp_path / "root"
    env = dict(os.environ, DESTDIR=str(dest))
    subprocess.run(["cmake", "--install", build, "--prefix", prefix, "--component",
                    "Unspecified"], check=True, capture_output=True, env=env)
    # Where this interpreter itself reads packages for that prefix.
    wanted = subprocess.run(
        [sys.executable, "-c", "import sys; print('\\n'.join(sys.path))"],
        capture_output=True, text=True, check=True).stdout.split()
    found = [p for p in wanted if p.startswith(prefix + "/")
             and os.path.isfile(str(dest) + p + "/sigdump/__init__.py")]
    assert found, "no sigdump under %s in any of %s" % (dest, wanted)
    site = str(dest) + found[0]
    assert any(n.startswith("_core") and n.endswith(".so") for n in os.listdir(site + "/sigdump"))
    assert os.path.isfile(site + "/sigdump/__init__.pyi")
    out = subprocess.run(
        [sys.executable, "-c", "import sigdump, os; print(sigdump.__file__)"],
        capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=site), check=True)
    assert out.stdout.startswith(site)
