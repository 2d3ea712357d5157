"""Rendering the SQL templates: the compiled-template cache between processes never fails a render."""
from __future__ import annotations

import shutil

import jinja2

from duckpipe import sqlrender


def _env(cache) -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(sqlrender.sql_root())),
                              undefined=jinja2.StrictUndefined, bytecode_cache=cache, **sqlrender._OPTIONS)


def test_cached_templates_render_as_compiled_ones(tmp_path):
    (tmp_path / "cache").mkdir()
    cache = sqlrender._BytecodeCache(str(tmp_path / "cache"))
    first = _env(cache).get_template("partials/facts.sql").render()
    assert list((tmp_path / "cache").iterdir())                       # written ...
    again = _env(cache).get_template("partials/facts.sql").render()    # ... and read by a new environment
    assert again == first == _env(None).get_template("partials/facts.sql").render()


def test_a_broken_cache_only_means_compiling_again(tmp_path):
    folder = tmp_path / "cache"
    folder.mkdir()
    cache = sqlrender._BytecodeCache(str(folder))
    want = _env(None).get_template("partials/stats.sql").render()
    _env(cache).get_template("partials/stats.sql")
    for f in folder.iterdir():                                          # a truncated entry
        f.write_bytes(b"\x00not bytecode")
    assert _env(cache).get_template("partials/stats.sql").render() == want
    shutil.rmtree(folder)                                               # the temp folder cleaned away
    assert _env(cache).get_template("partials/stats.sql").render() == want
