"""The custom-writer loop from the console script: ``vsssim fuzz --writer FILE.py:Class`` or
``module:Class`` from the user's folder, one-line errors for a bad name, and the printed
replay commands run exactly as printed."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import attrs
import pytest

from vsssim.errors import ConfigurationError
from vsssim.sim.tokens import ReplayToken, read_token
from vsssim.testing.fuzz import load_writer
from vsssim.testing.fuzz.writer_loading import module_name_for

#: The console script installed beside this interpreter (as a user runs it).
VSSSIM = shutil.which("vsssim", path=str(Path(sys.executable).parent)) or "vsssim"

GOOD = """\
from vsssim import Writer

class MyWriter(Writer):
    '''A user's writer that does what the base class does.'''
"""

#: A writer whose OnIdentify crashes: nearly every run fails.
BROKEN = """\
from vsssim import Writer

class BrokenWriter(Writer):
    def on_identify(self, ctx):
        raise RuntimeError("broken on purpose")
        yield
"""


def vsssim(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the console script in ``cwd``, as a user in their own folder would."""
    return subprocess.run(
        [VSSSIM, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def test_a_writer_file_is_fuzzed_from_the_console_script(tmp_path: Path) -> None:
    (tmp_path / "sub dir").mkdir()
    (tmp_path / "sub dir" / "my writer.py").write_text(GOOD, encoding="utf-8")
    done = vsssim(tmp_path, "fuzz", "--runs", "3", "--writer", "sub dir/my writer.py:MyWriter")
    assert done.returncode == 0, done.stderr
    assert "0 violations" in done.stdout


def test_a_writer_module_in_the_current_folder_is_fuzzed_from_the_console_script(
    tmp_path: Path,
) -> None:
    (tmp_path / "mywriter.py").write_text(GOOD, encoding="utf-8")
    done = vsssim(tmp_path, "fuzz", "--runs", "3", "--writer", "mywriter:MyWriter")
    assert done.returncode == 0, done.stderr
    assert "0 violations" in done.stdout


@pytest.mark.parametrize("method", ["spawn", "fork"])
def test_campaign_workers_load_the_writer_file_the_same_way(tmp_path: Path, method: str) -> None:
    (tmp_path / "w.py").write_text(BROKEN, encoding="utf-8")
    (tmp_path / "mod.py").write_text(BROKEN, encoding="utf-8")
    driver = tmp_path / "driver" / "run.py"
    driver.parent.mkdir()
    driver.write_text(
        "import multiprocessing, sys\n"
        "from vsssim.testing.fuzz import campaign\n"
        "if __name__ == '__main__':\n"
        f"    multiprocessing.set_start_method({method!r})\n"
        "    for spec in ('w.py:BrokenWriter', 'mod:BrokenWriter'):\n"
        "        s = campaign(1, 4, jobs=2, writer=spec, misbehaviour=False)\n"
        "        here = campaign(1, 4, writer=spec, misbehaviour=False, in_process=True)\n"
        "        print(s == here, s.failed > 0, s.crashed)\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, str(driver)], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    # The workers found the writer's bug as this process does, none failed to load its class.
    assert done.stdout.split("\n")[:2] == ["True True 0", "True True 0"]


@pytest.mark.parametrize(
    ("name", "source", "expected"),
    [
        ("nofile.py:MyWriter", None, "no file 'nofile.py' (it does not exist)"),
        ("bad.py:MyWriter", "class MyWriter(:\n", "syntax error in bad.py line 1"),
        ("good.py:Nobody", GOOD, "'good.py' has no 'Nobody'"),
        ("number.py:MyWriter", "MyWriter = 3\n", "is not a subclass of vsssim.Writer"),
        ("notwriter.py:Thing", "class Thing:\n    pass\n", "is not a subclass of vsssim.Writer"),
        ("nosuchmodule:MyWriter", None, "No module named 'nosuchmodule'"),
        ("good.py", GOOD, "is not module:Class or path/file.py:Class"),
    ],
)
def test_a_bad_writer_name_is_one_line_naming_what_is_wrong(
    tmp_path: Path, name: str, source: str | None, expected: str
) -> None:
    if source is not None:
        (tmp_path / name.partition(":")[0]).write_text(source, encoding="utf-8")
    done = vsssim(tmp_path, "fuzz", "--runs", "1", "--writer", name)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.startswith("vsssim: error: ") and expected in done.stderr


def test_a_writer_file_loads_once_under_a_stable_name(tmp_path: Path) -> None:
    path = tmp_path / "stable.py"
    path.write_text(GOOD, encoding="utf-8")
    spec = f"{path}:MyWriter"
    first, again = load_writer(spec), load_writer(spec)
    assert first is again and first.__module__ == module_name_for(path)
    other = tmp_path / "other" / "stable.py"
    other.parent.mkdir()
    other.write_text(GOOD, encoding="utf-8")
    assert module_name_for(other) != module_name_for(path)
    with pytest.raises(ConfigurationError, match="importing it raised"):
        (tmp_path / "raises.py").write_text("raise ValueError('no')\n", encoding="utf-8")
        load_writer(f"{tmp_path / 'raises.py'}:X")


def test_the_printed_replay_commands_run_as_printed(tmp_path: Path) -> None:
    (tmp_path / "my writer.py").write_text(BROKEN, encoding="utf-8")
    spec = "my writer.py:BrokenWriter"
    done = vsssim(tmp_path, "fuzz", "--runs", "5", "--writer", spec, "--no-misbehaviour")
    assert done.returncode == 1, done.stderr
    [line] = [x for x in done.stdout.splitlines() if x.startswith("Replay it:")]
    command = shlex.split(line.removeprefix("Replay it:"))
    assert command[-2:] == ["--writer", spec]  # the token says --no-misbehaviour
    replayed = vsssim(tmp_path, *command[1:])
    assert replayed.returncode == 1, replayed.stderr
    first = next(x for x in done.stdout.splitlines() if x.startswith("  writer bug:"))
    assert f"VIOLATION {first.strip()}" in replayed.stdout
    # The failure file's hint too: everything inside its parentheses is one command.
    [hint] = [x for x in done.stdout.splitlines() if "(vsssim replay --file " in x]
    command = shlex.split(hint.rpartition("(")[2].removesuffix(")"))
    from_file = vsssim(tmp_path, *command[1:])
    assert from_file.returncode == 1, from_file.stderr
    assert "writer bug:" in from_file.stdout


def test_the_explore_replay_line_runs_as_printed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.test_explore import EXAMPLE, _without_the_set_lock
    from vsssim.cli.main import main

    scenario = tmp_path / "my scenario's file.toml"
    shutil.copyfile(EXAMPLE, scenario)
    _without_the_set_lock(monkeypatch)
    assert main(["explore", str(scenario), "--preemption-bound", "none"]) == 1
    [line] = [x for x in capsys.readouterr().out.splitlines() if x.startswith("Replay it:")]
    command = shlex.split(line.removeprefix("Replay it:"))
    assert command[:2] == ["vsssim", "replay"] and len(command) == 3
    assert main(command[1:]) == 1
    assert "one set at a time          VIOLATED" in capsys.readouterr().out


def test_the_pytest_plugin_replay_lines_run_as_printed(tmp_path: Path) -> None:
    from tests.test_pytest_plugin import _pytest

    example = Path(__file__).resolve().parent.parent / "examples" / "explore_2x2x2.toml"
    scenario = tmp_path / "a scenario.toml"
    shutil.copyfile(example, scenario)
    (tmp_path / "test_it.py").write_text(
        "def test_demo(vsssim_demo):\n"
        "    vsssim_demo.run()\n"
        "    assert False, 'planted'\n"
        "def test_file(vsssim_scenario):\n"
        f"    vsssim_scenario({str(scenario)!r}).run()\n"
        "    assert False, 'planted'\n",
        encoding="utf-8",
    )
    failed = _pytest("-v", cwd=tmp_path)
    assert failed.returncode == 1
    lines = failed.stdout.splitlines()
    hints = [(x, lines[n + 1]) for n, x in enumerate(lines) if "if the test only ran it: " in x]
    assert len(hints) == 2, failed.stdout
    for hint, token_line in hints:
        command = shlex.split(hint.partition("if the test only ran it: ")[2])
        token = token_line.partition("replay token ")[2]
        assert read_token(token).kind == "pytest", token_line
        done = vsssim(tmp_path, *command[1:], "--show-token")
        assert "left over" not in done.stderr and "Traceback" not in done.stderr, done.stderr
        assert done.returncode == 0, done.stdout + done.stderr
    # The token runs the failing test again, on the same seed.
    again = [x for x in lines if x.startswith("run the test again: ")]
    assert len(again) == 2, failed.stdout
    for line in again:
        command = shlex.split(line.partition(": ")[2])
        done = vsssim(tmp_path, *command[1:])
        assert done.returncode == 1, done.stdout + done.stderr
        assert "planted" in done.stdout and "1 failed" in done.stdout
    # The token names the test's file relative to the rootdir, never this folder.
    token = read_token(shlex.split(again[0].partition(": ")[2])[2])
    assert token.fields["file"] == "test_it.py" and str(tmp_path) not in json.dumps(token.fields)
    # A clone at another path replays it, from its folder or one below; the original is gone.
    clone = tmp_path.parent / f"{tmp_path.name} clone"
    shutil.copytree(tmp_path, clone)
    shutil.rmtree(tmp_path)
    (clone / "sub").mkdir()
    for folder in (clone, clone / "sub"):
        done = vsssim(folder, "replay", token.encode())
        assert done.returncode == 1 and "1 failed" in done.stdout, done.stdout + done.stderr
        assert "planted" in done.stdout
    # Where the file is not, one line naming it; an edited file replays with a note.
    done = vsssim(tmp_path.parent, "replay", token.encode())
    assert done.returncode == 2 and done.stdout == "" and done.stderr.count("\n") == 1
    assert "the token's test is in 'test_it.py'" in done.stderr and "a checkout" in done.stderr
    with (clone / "test_it.py").open("a", encoding="utf-8") as edited:
        edited.write("# edited\n")
    done = vsssim(clone, "replay", token.encode())
    assert done.returncode == 1 and "test_it.py differs from the file" in done.stderr
    shutil.rmtree(clone)


def test_a_pytest_token_naming_a_path_outside_a_project_is_refused(tmp_path: Path) -> None:
    made = ReplayToken("pytest", {"test": "x.py::t", "base": 0, "file": "x.py"})
    for test, file in (("-k::t", "-k"), ("../x.py::t", "../x.py"), ("/x.py::t", "/x.py")):
        token = attrs.evolve(made, fields={**made.fields, "test": test, "file": file})
        done = vsssim(tmp_path, "replay", token.encode())
        assert done.returncode == 2 and "damaged" in done.stderr, done.stderr
    token = attrs.evolve(made, fields={**made.fields, "test": "y.py::t"})
    done = vsssim(tmp_path, "replay", token.encode())
    assert done.returncode == 2 and "damaged" in done.stderr, done.stderr
