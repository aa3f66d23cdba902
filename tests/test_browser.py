"""The course where learners open it: a real JupyterLab in a real (headless) Chromium, every notebook "Run All".

For each notebook and learner exercise copy, the test opens it in JupyterLab (started on a copy of the repository's
notebooks/, exercises/ and imgs/, so that nothing is written into the checkout), checks that the course's kernel
was chosen without a "Select Kernel" dialog, runs Run > Run All Cells, saves, and reads the saved notebook back:

* every code cell executed (the learner copies stop at the first exercise's `NotImplementedError`, by design: the
  cells after it are not run and that error is the only one allowed);
* no error output and nothing on stderr;
* every image in the rendered markdown loaded (the Colab badge, which needs the network, aside).

A screenshot per notebook goes to `<output dir>/browser/`. Needs the `playwright` Python package and a Chromium:
Debian's `/usr/bin/chromium`, `COURSE_CHROMIUM`, or the one `python -m playwright install chromium` downloads
(`make browser-deps` installs them). A nightly check: `make test-nightly` (keep the screenshots with
`make test-nightly TEST_OUTPUT_DIR=outputs/nightly`); `COURSE_BROWSER_NOTEBOOKS="01 03a"` narrows it.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Debian's Chromium where it is installed; otherwise the one `python -m playwright install chromium` downloaded
CHROMIUM = os.environ.get("COURSE_CHROMIUM") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").is_file() else None)
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
RUN_TIMEOUT_S = 900  # one notebook's Run All at tiny (the slowest takes about 2.5 min alone)
EXERCISE_STOP = "NotImplementedError"
# Read at import, before the per-test isolation gives each test its own output folder: where `make test-nightly`
# (or TEST_OUTPUT_DIR) wants the screenshots.
ARTIFACTS = Path(os.environ.get("COURSE_OUTPUT_DIR") or ROOT / "outputs") / "browser"


def _books() -> list[str]:
    only = os.environ.get("COURSE_BROWSER_NOTEBOOKS", "").split()
    books = [f"notebooks/{p.name}" for p in sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))]
    books += [f"exercises/{p.name}" for p in sorted((ROOT / "exercises").glob("[0-9]*.ipynb"))]
    if only:
        books = [b for b in books if any(Path(b).name.startswith(o) for o in only)]
    return books


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path]]:
    """JupyterLab on a copy of the course, on loopback, with the course's environment; yields (url, token, root)."""
    if CHROMIUM and not Path(CHROMIUM).is_file():
        pytest.fail(f"COURSE_CHROMIUM={CHROMIUM} is not a file: point it at a Chromium, or unset it")
    try:
        import playwright  # noqa: F401
    except ImportError:
        pytest.fail("the browser test needs the playwright package: run `make browser-deps`")
    root = tmp_path_factory.mktemp("lab")
    for folder in ("notebooks", "exercises", "imgs"):
        shutil.copytree(ROOT / folder, root / folder, ignore=shutil.ignore_patterns("solutions", ".ipynb_checkpoints"))
    outputs = root / "outputs"  # what the notebooks write (models, results) stays with the copy
    env = {**os.environ, "COURSE_OUTPUT_DIR": str(outputs), "COURSE_SCALE": "tiny", "COURSE_SOURCE": "sample",
           "HF_HUB_OFFLINE": "1", "COURSE_QUIET": "1", "TOKENIZERS_PARALLELISM": "false",
           "JUPYTER_CONFIG_DIR": str(root / ".jupyter")}  # no user settings: what a new learner sees
    port, token = _free_port(), secrets.token_hex(16)
    log = (root / "lab.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--ServerApp.root_dir={root}", f"--IdentityProvider.token={token}", "--ServerApp.open_browser=False",
         "--LabApp.news_url=", *(["--allow-root"] if hasattr(os, "getuid") and os.getuid() == 0 else [])],
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"jupyter lab exited: {(root / 'lab.log').read_text()[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.5)
    else:
        server.kill()
        pytest.fail("jupyter lab did not start within 120 s")
    yield url, token, root
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()
    log.close()


@pytest.fixture(scope="module")
def browser(lab: tuple[str, str, Path]) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        try:
            chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        except Exception as err:  # no browser at all: say how to get one
            pytest.fail(f"Chromium did not start ({err}); run `make browser-deps`, or set COURSE_CHROMIUM")
        yield chromium
        chromium.close()


def _shut_down_kernels(url: str, token: str) -> None:
    """End every kernel the server started (closing a tab does not): each holds a notebook's models in memory."""
    import urllib.request

    headers = {"Authorization": f"token {token}"}
    with urllib.request.urlopen(urllib.request.Request(f"{url}/api/sessions", headers=headers), timeout=30) as r:
        sessions = json.load(r)
    for session in sessions:
        request = urllib.request.Request(f"{url}/api/sessions/{session['id']}", method="DELETE", headers=headers)
        urllib.request.urlopen(request, timeout=60).close()


def _problems(path: Path, learner_copy: bool) -> list[str]:
    """What the saved notebook shows that a learner must not see."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    problems, stopped = [], False
    for index, cell in enumerate(c for c in nb["cells"] if c["cell_type"] == "code"):
        for output in cell.get("outputs", []):
            if output["output_type"] == "error":
                if learner_copy and output.get("ename") == EXERCISE_STOP:
                    stopped = True
                    continue
                problems.append(f"code cell {index}: {output.get('ename')}: {output.get('evalue', '')[:300]}")
            elif output["output_type"] == "stream" and output.get("name") == "stderr":
                problems.append(f"code cell {index} wrote to stderr: {''.join(output.get('text', ''))[:300]}")
        if cell.get("execution_count") is None and not stopped and cell.get("source"):
            problems.append(f"code cell {index} did not run")
    return problems


@pytest.mark.nightly
@pytest.mark.parametrize("book", _books())
def test_run_all_in_jupyterlab(book: str, lab: tuple[str, str, Path], browser: object):
    url, token, root = lab
    learner_copy = book.startswith("exercises/")
    shots = ARTIFACTS
    shots.mkdir(parents=True, exist_ok=True)
    saved = root / book
    before = saved.stat().st_mtime
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(f"{url}/lab/tree/{book}?token={token}&reset", wait_until="domcontentloaded")
        page.wait_for_selector(".jp-Notebook", timeout=120_000)
        # the kernel named in the notebook starts by itself; a "Select Kernel" dialog would mean it was not found
        dialog, kernel = page.locator(".jp-Dialog"), ""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if dialog.count():
                page.screenshot(path=str(shots / f"{Path(book).stem}-dialog.png"))
                pytest.fail(f"{book}: a dialog opened instead of the course's kernel: {dialog.first.inner_text()}")
            kernel = page.locator(".jp-Toolbar-kernelName").first.inner_text()
            idle = page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").count()
            if "Python 3" in kernel and idle:
                break
            time.sleep(0.5)
        else:
            pytest.fail(f"{book}: the kernel did not start within 120 s (toolbar shows {kernel!r})")

        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Run All Cells", exact=False).first.click()
        # wait until the kernel has been busy and is idle again, with no cell still queued ([*])
        deadline = time.monotonic() + RUN_TIMEOUT_S
        time.sleep(2)
        while time.monotonic() < deadline:
            busy = page.locator(".jp-Notebook-ExecutionIndicator[data-status='busy']").count()
            queued = page.locator(".jp-InputPrompt", has_text="[*]").count()
            if not busy and not queued:
                break
            time.sleep(2)
        else:
            pytest.fail(f"{book}: Run All did not finish within {RUN_TIMEOUT_S} s")

        images = page.eval_on_selector_all(
            ".jp-RenderedMarkdown img", "els => els.map(e => [e.getAttribute('src'), e.complete && e.naturalWidth > 0])"
        )
        broken = [src for src, loaded in images if not loaded and "colab" not in (src or "")]

        page.keyboard.press("Control+s")
        deadline = time.monotonic() + 30
        while saved.stat().st_mtime == before and time.monotonic() < deadline:
            time.sleep(0.5)
        page.screenshot(path=str(shots / f"{Path(book).stem}.png"), full_page=False)
    finally:
        page.close()
        _shut_down_kernels(url, token)
    assert saved.stat().st_mtime != before, f"{book}: the notebook was not saved after Run All"
    problems = _problems(saved, learner_copy)
    assert not broken, f"{book}: images that did not load: {broken}"
    assert not problems, f"{book}:\n" + "\n".join(problems)
