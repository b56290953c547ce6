"""Each quickstart, followed literally in a fresh virtual environment, ends with the real server
answering a ``cortexhooks trigger`` delivery with 200.

The test reads ``docs/quickstart/*.md`` by these conventions (the pages follow them):

* The page's first ```bash block is its install line (``pip install "cortexhooks-receiver[X]"``).
* A ```python block whose fence says ``title="FILE"`` is the file FILE, saved where it appears.
  Such files above the "Run it" section must run (``python FILE``) with only the install line
  done: that is what a reader who pasted them has.
* The section runs from the ``## Run it`` heading to the next ``## `` heading. Each ```console
  block in it is one terminal: a new bash shell in the working folder with the virtual
  environment activated; its commands share exports, other terminals do not see them.
* ``$ `` starts a command (a trailing backslash continues it on the next line); the lines up to
  the next command are the output it shows. Shown output must match the real output (stdout and
  stderr) line by line, ``...`` in a line standing for any text and a line of only ``...`` for
  any number of lines. A command that shows no output is not checked. Every command must exit 0.
* A console block right after the line ``<!-- run-it: server -->`` is a server's terminal: its
  last command keeps running. It is started in the background and polled (a GET at the webhook
  URL answers 405 once the app is loaded, within a timeout), then stopped when the next server
  starts (the reader's Ctrl-C) or the section ends. Its shown output must appear, in order,
  among the lines the server printed (a server prints more than a page shows).
* ``8000``, in commands and shown output, is replaced by a free loopback port.
* ``pip install`` gets ``-c requirements/constraints.txt`` (the lock), and the
  ``cortexhooks-receiver`` it names (with its extras) is this checkout, as a wheel built once per
  session; the other packages it names are installed as named.

The virtual environment of each page is new and holds only what the page installs.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # the server lifecycle lives in integrations/servers.py
    sys.path.insert(0, str(ROOT))

from integrations import servers  # noqa: E402

QUICKSTARTS = ROOT / "docs" / "quickstart"
LOCK = ROOT / "requirements" / "constraints.txt"
PROJECT = "cortexhooks-receiver"
SECTION = "## Run it"
SERVER_MARK = "<!-- run-it: server -->"
PAGE_PORT = re.compile(r"(?<!\d)8000(?!\d)")
ELLIPSIS = "..."
PIP_WHEEL = (sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation")
INSTALL_TIMEOUT = 300
COMMAND_TIMEOUT = 60
FILE_CHECK_SECRET = "whsec_quickstart_file_check_0123456789"
# What the terminal a reader opens does not have: this test run's own configuration.
NOT_INHERITED = ("CORTEXBUILD_WEBHOOK_SECRET", "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
NOT_INHERITED_PREFIXES = ("CORTEXHOOKS_", "DJANGO_")

_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # colours: a terminal shows the text only
_FENCE = re.compile(r"^```(?P<info>[\w+-]*)(?P<attrs>[^`]*)$")
_TITLE = re.compile(r'\btitle="(?P<title>[^"]+)"')


# --- reading a page ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    """One ``$`` command of a console block and the output lines the page shows under it."""

    source: str
    shown: tuple[str, ...]


@dataclass(frozen=True)
class Terminal:
    """One console block of the section; ``server``: its last command keeps running."""

    commands: tuple[Command, ...]
    server: bool


@dataclass(frozen=True)
class File:
    """A titled python block: the file ``path`` (relative to the working folder)."""

    path: str
    source: str


@dataclass(frozen=True)
class Recipe:
    """What a page tells a reader to do, in order."""

    install: tuple[str, ...]
    files: tuple[File, ...]  # above the section
    steps: tuple[File | Terminal, ...]  # in the section

    @property
    def servers(self) -> list[Terminal]:
        return [s for s in self.steps if isinstance(s, Terminal) and s.server]


def parse_commands(lines: Sequence[str]) -> tuple[Command, ...]:
    """Split a console block into its ``$`` commands, each with the output lines shown under it."""
    commands: list[Command] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if not line.startswith("$ "):
            raise ValueError(f"console output before any command: {line!r}")
        source = line[2:]
        while source.endswith("\\") and index + 1 < len(lines):
            index += 1
            source = source[:-1].rstrip() + " " + lines[index].strip()
        shown: list[str] = []
        while index + 1 < len(lines) and not lines[index + 1].startswith("$ "):
            index += 1
            shown.append(lines[index].rstrip())
        commands.append(Command(source, tuple(shown)))
        index += 1
    return tuple(commands)


def parse_recipe(text: str) -> Recipe:
    """Read the install line, the files and the "Run it" steps of one quickstart page."""
    install: list[str] | None = None
    files: list[File] = []
    steps: list[File | Terminal] = []
    in_section = False
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("## "):
            in_section = line.rstrip() == SECTION
        fence = _FENCE.match(line)
        if fence is None:
            index += 1
            continue
        end = lines.index("```", index + 1)
        body = lines[index + 1 : end]
        info, title = fence["info"], _TITLE.search(fence["attrs"])
        if info == "bash" and install is None:
            install = [b for b in body if b.strip()]
        elif info == "python" and title is not None:
            file = File(title["title"], "\n".join(body) + "\n")
            (steps if in_section else files).append(file)
        elif info == "console" and in_section:
            server = index > 0 and lines[index - 1].strip() == SERVER_MARK
            steps.append(Terminal(parse_commands(body), server))
        index = end + 1
    return Recipe(tuple(install or ()), tuple(files), tuple(steps))


# --- comparing output ----------------------------------------------------------------------------


def line_matches(shown: str, actual: str) -> bool:
    """``shown`` equals ``actual``, each ``...`` in it standing for any text."""
    pattern = ".*".join(re.escape(part) for part in shown.split(ELLIPSIS))
    return re.fullmatch(pattern, actual) is not None


def lines_match(shown: Sequence[str], actual: Sequence[str]) -> bool:
    """Every line matches in order; a line of only ``...`` stands for any number of lines."""
    i = j = 0
    star, mark = -1, 0
    while j < len(actual):
        if i < len(shown) and shown[i] == ELLIPSIS:
            star, mark = i, j
            i += 1
        elif i < len(shown) and line_matches(shown[i], actual[j]):
            i += 1
            j += 1
        elif star >= 0:  # let the last ``...`` take one more line, and retry from there
            mark += 1
            i, j = star + 1, mark
        else:
            return False
    return all(line == ELLIPSIS for line in shown[i:])


def appear_in_order(shown: Sequence[str], actual: Sequence[str]) -> bool:
    """The shown lines appear in ``actual`` in this order, other lines around them."""
    spread = [ELLIPSIS]
    for line in shown:
        spread += [line, ELLIPSIS]
    return lines_match(spread, actual)


def output_lines(text: str) -> list[str]:
    """The lines a terminal shows for ``text``."""
    return [_ANSI.sub("", line).rstrip() for line in text.splitlines()]


# --- following a page ----------------------------------------------------------------------------


def local_install(command: str, wheel: Path) -> str:
    """``pip install ...`` with the lock, and this checkout's wheel instead of the release."""
    words = shlex.split(command)
    if words[:2] != ["pip", "install"]:
        return command
    packages = []
    for word in words[2:]:
        try:
            requirement = Requirement(word)
        except InvalidRequirement:
            packages.append(word)
            continue
        if canonicalize_name(requirement.name) == PROJECT:
            extras = ",".join(sorted(requirement.extras))
            packages.append(f"{wheel}[{extras}]" if extras else str(wheel))
        else:
            packages.append(word)
    return shlex.join(["pip", "install", "-c", str(LOCK), *packages])


def terminal_env(venv: Path, home: Path) -> dict[str, str]:
    """The environment of a new terminal with ``venv`` activated (nothing of this test run).

    ``home`` is its ``HOME``: what the servers keep there (gunicorn's control socket) stays in
    this test's folder.
    """
    dev_bin = str(Path(sys.executable).parent)
    path = [str(venv / "bin")]
    path += [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and p != dev_bin]
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in NOT_INHERITED and not name.startswith(NOT_INHERITED_PREFIXES)
    }
    # A terminal shows each line as it is printed; here the output goes to a file.
    env.update(
        PATH=os.pathsep.join(path), VIRTUAL_ENV=str(venv), HOME=str(home), PYTHONUNBUFFERED="1"
    )
    return env


@dataclass
class Shell:
    """One terminal: bash commands in ``workdir`` whose exports and ``cd`` persist in ``state``."""

    workdir: Path
    env: dict[str, str]
    state: Path

    def _script(self, source: str) -> str:
        load = f"source {shlex.quote(str(self.state))}\n" if self.state.exists() else ""
        return load + source

    def run(self, source: str, timeout: float) -> tuple[int, str]:
        """Run one command; return its exit status and its output (stdout and stderr)."""
        save = f'{{ export -p; printf "cd %q\\n" "$PWD"; }} > {shlex.quote(str(self.state))}'
        script = self._script(f"{source}\n__status=$?\n{save}\nexit $__status\n")
        proc = subprocess.run(
            ["bash", "--noprofile", "--norc", "-c", script],
            cwd=self.workdir,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            check=False,
        )
        return proc.returncode, proc.stdout

    def start(self, source: str, output: Path) -> subprocess.Popen[bytes]:
        """Start a long-running command in its own session, its output going to ``output``."""
        with output.open("wb") as sink:
            return subprocess.Popen(
                ["bash", "--noprofile", "--norc", "-c", self._script(f"exec {source}\n")],
                cwd=self.workdir,
                env=self.env,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    output: Path
    command: Command


class Reader:
    """Follows one recipe in ``workdir`` with ``venv``, serving on ``port``."""

    def __init__(self, workdir: Path, venv: Path, port: int, wheel: Path) -> None:
        self.workdir = workdir
        self.venv = venv
        self.port = port
        self.wheel = wheel
        home = workdir.parent / "home"
        home.mkdir(exist_ok=True)
        self.env = terminal_env(venv, home)
        self.terminals = 0
        self.server: Server | None = None
        self.timings: list[tuple[str, float]] = []

    def localise(self, text: str) -> str:
        return PAGE_PORT.sub(str(self.port), text)

    def new_shell(self) -> Shell:
        self.terminals += 1
        return Shell(self.workdir, self.env, self.workdir.parent / f"terminal-{self.terminals}.sh")

    def run(self, shell: Shell, command: Command) -> None:
        source = local_install(self.localise(command.source), self.wheel)
        timeout = INSTALL_TIMEOUT if source.startswith("pip ") else COMMAND_TIMEOUT
        started = time.monotonic()
        status, output = shell.run(source, timeout)
        self.timings.append((command.source, time.monotonic() - started))
        where = f"$ {command.source}\n(ran: {source})\n--- output\n{output}"
        assert status == 0, f"exit status {status}\n{where}"
        shown = [self.localise(line) for line in command.shown]
        if shown:
            assert lines_match(shown, output_lines(output)), "output differs from the page\n" + (
                "--- page\n" + "\n".join(shown) + "\n" + where
            )

    def save(self, file: File) -> None:
        path = self.workdir / file.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(file.source, encoding="utf-8")

    def check_runs(self, file: File) -> None:
        """``python FILE`` exits 0 (with a secret set, as the page's reader has by then)."""
        proc = subprocess.run(
            [str(self.venv / "bin" / "python"), file.path],
            cwd=self.workdir,
            env={**self.env, "CORTEXBUILD_WEBHOOK_SECRET": FILE_CHECK_SECRET},
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
        assert proc.returncode == 0, (
            f"{file.path} does not run with only the page's install line:\n{proc.stderr}"
        )

    def terminal(self, terminal: Terminal) -> None:
        shell = self.new_shell()
        *setup, last = terminal.commands
        for command in setup if terminal.server else terminal.commands:
            self.run(shell, command)
        if terminal.server:
            self.stop_server()
            output = self.workdir.parent / f"server-{self.terminals}.out"
            source = self.localise(last.source)
            self.server = Server(shell.start(source, output), output, last)
            started = time.monotonic()
            try:
                servers.wait_ready(self.server.proc, self.port)
            except servers.ServerError as exc:
                self.stop_server(check=False)
                pytest.fail(f"$ {last.source}: {exc}\n{output.read_text(errors='replace')}")
            self.timings.append((last.source, time.monotonic() - started))

    def stop_server(self, *, check: bool = True) -> None:
        """Stop the running server (the reader's Ctrl-C); check what it printed."""
        server, self.server = self.server, None
        if server is None:
            return
        servers.stop(server.proc)
        printed = output_lines(server.output.read_text(encoding="utf-8", errors="replace"))
        shown = [self.localise(line) for line in server.command.shown]
        if check:
            assert appear_in_order(shown, printed), (
                "the server did not print what the page shows\n--- page\n"
                + "\n".join(shown)
                + f"\n--- $ {server.command.source}\n"
                + "\n".join(printed)
            )

    def follow(self, recipe: Recipe) -> None:
        """Do everything the page says, in order; stop the last server however it ends."""
        for command in recipe.install:
            self.run(self.new_shell(), Command(command.removeprefix("$ "), ()))
        for file in recipe.files:
            self.save(file)
            self.check_runs(file)
        try:
            for step in recipe.steps:
                if isinstance(step, File):
                    self.save(step)
                else:
                    self.terminal(step)
            self.stop_server()
        finally:
            self.stop_server(check=False)


PAGES = sorted(QUICKSTARTS.glob("*.md"))


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This checkout as a wheel, built once (what ``pip install cortexhooks-receiver`` gets)."""
    folder = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [*PIP_WHEEL, "-w", str(folder), str(ROOT)],
        check=True,
        timeout=INSTALL_TIMEOUT,
    )
    (built,) = folder.glob("*.whl")
    return built


@pytest.fixture
def reader(request: pytest.FixtureRequest, tmp_path: Path, wheel: Path) -> Iterator[Reader]:
    venv, workdir = tmp_path / "venv", tmp_path / "work"
    workdir.mkdir()
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=COMMAND_TIMEOUT)
    reader = Reader(workdir, venv, servers.free_port(), wheel)
    reader.timings.append(("python -m venv", time.monotonic() - started))
    try:
        yield reader
    finally:
        reader.stop_server(check=False)
        total = time.monotonic() - started
        steps = ", ".join(f"{' '.join(c.split()[:2])} {t:.1f}s" for c, t in reader.timings)
        print(f"{request.node.callspec.id}: {total:.1f}s ({steps})")


# --- the pages -----------------------------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_quickstart_has_a_run_it_section_that_triggers_a_200(page: Path) -> None:
    recipe = parse_recipe(page.read_text(encoding="utf-8"))
    assert any(PROJECT in line and line.startswith("pip install") for line in recipe.install)
    assert recipe.servers, f"{page.name}: no {SERVER_MARK} console block under {SECTION!r}"
    triggers = [
        command
        for step in recipe.steps[recipe.steps.index(recipe.servers[0]) :]
        if isinstance(step, Terminal) and not step.server
        for command in step.commands
        if command.source.startswith("cortexhooks trigger ")
    ]
    assert triggers, f"{page.name}: no `cortexhooks trigger` after the server starts"
    for command in triggers:
        assert any(line.startswith("<- 200 ") for line in command.shown), command


@pytest.mark.e2e
@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_quickstart_followed_literally_ends_with_trigger_answered_200(
    page: Path, reader: Reader
) -> None:
    reader.follow(parse_recipe(page.read_text(encoding="utf-8")))


# --- the conventions themselves ------------------------------------------------------------------

SAMPLE = """\
# Sample

```bash
pip install "cortexhooks-receiver[flask]"
```

```python title="app.py"
app = 1
```

```python
assert app == 1
```

## Run it

```console
$ pip install 'cortexhooks-receiver[flask,cli]' uvicorn
$ echo one \\
      two
one two
```

```python title="conf/extra.py"
x = 2
```

<!-- run-it: server -->
```console
$ export A=1
$ serve --port 8000
...
ready on 8000
```

## Later

```console
$ not part of the recipe
```
"""


def test_recipe_has_the_install_line_the_files_and_the_terminals_in_page_order() -> None:
    recipe = parse_recipe(SAMPLE)
    assert recipe.install == ('pip install "cortexhooks-receiver[flask]"',)
    assert recipe.files == (File("app.py", "app = 1\n"),)
    assert recipe.steps == (
        Terminal(
            (
                Command("pip install 'cortexhooks-receiver[flask,cli]' uvicorn", ()),
                Command("echo one two", ("one two",)),
            ),
            server=False,
        ),
        File("conf/extra.py", "x = 2\n"),
        Terminal(
            (Command("export A=1", ()), Command("serve --port 8000", ("...", "ready on 8000"))),
            server=True,
        ),
    )


def test_console_output_before_a_command_is_refused() -> None:
    with pytest.raises(ValueError, match="before any command"):
        parse_commands(["stray output"])


@pytest.mark.parametrize(
    ("shown", "actual", "expected"),
    [
        (["<- 200  success  ... ms"], ["<- 200  success  4 ms"], True),
        (["<- 200  success  ... ms"], ["<- 401  http_error  4 ms"], False),
        (["a", "...", "z"], ["a", "b", "c", "z"], True),
        (["a", "...", "z"], ["a", "z"], True),
        (["a", "z"], ["a", "b", "z"], False),
        (["a"], ["a", "extra"], False),
        (["...", "b", "..."], ["a", "b", "c"], True),
        (["(dlv_...)"], ["(dlv_0123)"], True),
        (["a.b"], ["axb"], False),
    ],
)
def test_shown_lines_match_with_ellipses(
    shown: list[str], actual: list[str], expected: bool
) -> None:
    assert lines_match(shown, actual) is expected


def test_server_output_is_matched_among_other_lines() -> None:
    printed = ["banner", "ready on 8000", "GET / 405", "POST / 200"]
    assert appear_in_order(["ready on ...", "POST / 200"], printed)
    assert not appear_in_order(["POST / 200", "ready on ..."], printed)


def test_pip_install_uses_the_lock_and_this_checkout(tmp_path: Path) -> None:
    wheel = tmp_path / "cortexhooks_receiver-1.0-py3-none-any.whl"
    command = "pip install 'cortexhooks-receiver[flask,cli]' uvicorn"
    assert shlex.split(local_install(command, wheel)) == [
        "pip",
        "install",
        "-c",
        str(LOCK),
        f"{wheel}[cli,flask]",
        "uvicorn",
    ]
    assert shlex.split(local_install("pip install cortexhooks-receiver", wheel))[-1] == str(wheel)
    assert local_install("cortexhooks secret", wheel) == "cortexhooks secret"


def test_terminal_env_has_the_venv_and_none_of_this_runs_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CORTEXBUILD_WEBHOOK_SECRET", "whsec_leak")
    monkeypatch.setenv("CORTEXHOOKS_STORE", "memory://")
    env = terminal_env(tmp_path / "venv", tmp_path / "home")
    assert env["PATH"].split(os.pathsep)[0] == str(tmp_path / "venv" / "bin")
    assert str(Path(sys.executable).parent) not in env["PATH"].split(os.pathsep)
    assert "CORTEXBUILD_WEBHOOK_SECRET" not in env
    assert "CORTEXHOOKS_STORE" not in env
    assert env["HOME"] == str(tmp_path / "home")


def test_a_terminal_keeps_its_exports_and_a_new_one_does_not(tmp_path: Path) -> None:
    env = {"PATH": os.environ["PATH"]}
    first = Shell(tmp_path, env, tmp_path / "one.sh")
    assert first.run("export GREETING=hello; mkdir sub; cd sub", 10)[0] == 0
    assert first.run('echo "$GREETING from $(basename "$PWD")"', 10) == (0, "hello from sub\n")
    second = Shell(tmp_path, env, tmp_path / "two.sh")
    assert second.run('echo "[$GREETING]"', 10) == (0, "[]\n")
    assert first.run("false", 10)[0] == 1
