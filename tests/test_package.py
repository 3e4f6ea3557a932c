"""``import gradlab`` is light: names are imported when first used, and each is what it was.

Each check runs in a fresh interpreter: what a process has imported is the subject.
"""

import subprocess
import sys

import pytest

import gradlab as gl


def _fresh(code: str) -> str:
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, check=False)
    assert run.returncode == 0, run.stderr
    return run.stdout.strip()


def test_importing_the_package_and_the_command_line_imports_no_heavy_library():
    code = ("import sys, gradlab, gradlab.cli\n"
            "print(sorted({'jax', 'numpy', 'optax', 'matplotlib', 'rich'} & set(sys.modules)))")
    assert _fresh(code) == "[]"


def test_a_command_that_draws_nothing_imports_no_matplotlib():
    code = ("import sys\nfrom gradlab.cli import main\n"
            "main(['--no-cache', 'minimize', 'bowl', '--method', 'exact'])\n"
            "print('matplotlib' in sys.modules)")
    assert _fresh(code).splitlines()[-1] == "False"


def test_every_public_name_is_the_object_its_module_defines_whatever_was_imported_first():
    # Importing the submodules first binds e.g. gradlab.multistart (a module) on the package,
    # where users expect the function of that name.
    code = ("import importlib, pkgutil, gradlab\n"
            "for m in pkgutil.iter_modules(gradlab.__path__):\n"
            "    if m.name != 'testing':\n"
            "        importlib.import_module('gradlab.' + m.name)\n"
            "wrong = [n for n in gradlab.__all__ if getattr(gradlab, n) is not (\n"
            "    importlib.import_module('gradlab.' + n) if n in gradlab._SUBMODULES else\n"
            "    getattr(importlib.import_module(gradlab._HOME[n]), n))]\n"
            "print(wrong)")
    assert _fresh(code) == "[]"


def test_the_built_in_costs_are_registered_whichever_module_is_used_first():
    code = ("from gradlab.costs import Cost, get_cost, register\n"
            "import jax.numpy as jnp\n"
            "try:\n"
            "    register(Cost('bowl', lambda p: jnp.sum(p ** 2), bounds=[(-1, 1)] * 2))\n"
            "except ValueError as err:\n"
            "    print('refused:', 'already registered' in str(err))\n"
            "print(get_cost('sine').dim)")
    assert _fresh(code).splitlines() == ["refused: True", "1"]


def test_tab_completion_lists_the_api_and_unknown_names_fail_as_usual():
    assert set(gl.__all__) <= set(dir(gl))
    assert {"descend", "multistart", "plot", "Cost", "Status"} <= set(gl.__all__)
    with pytest.raises(AttributeError, match="no attribute 'descnd'"):
        gl.descnd  # noqa: B018
    from gradlab import descend, plot  # from-imports resolve lazily too

    assert callable(descend) and plot.__name__ == "gradlab.plot"


def test_the_console_entry_passes_the_exit_status_and_the_whole_output(tmp_path):
    run = lambda *argv: subprocess.run([sys.executable, "-m", "gradlab.cli", "--no-cache",
                                        *argv], capture_output=True, text=True, timeout=300,
                                       cwd=tmp_path, check=False)
    done = run("minimize", "bowl", "--method", "exact")
    assert done.returncode == 0 and done.stdout.startswith("exact: x = [2, -3], cost = 0")
    mistake = run("minimize", "bowl", "--method", "exact", "--steps", "3")
    assert mistake.returncode == 2 and len(mistake.stderr.splitlines()) == 1
