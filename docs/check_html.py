"""Check the built HTML: no broken internal link, and no console message in headless Chromium.

Usage: python docs/check_html.py docs/_build/html [--chromium chromium] [--screenshot index.png]

Internal links (``href``/``src`` that are not ``http(s):``, ``mailto:`` or
``data:``) must point at a file of the build, and a ``#fragment`` at an element
with that ``id`` in it. Each page is then opened in headless Chromium
(Debian's ``chromium``); any console message (a JavaScript error, a resource
that failed to load, a ``console.log``) counts as a failure. Exit status 1 when
something failed, with one line per problem.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links, self.ids = [], set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        for key in ("href", "src"):
            if attrs.get(key):
                self.links.append(attrs[key])


def _parse(path):
    c = _Collect()
    c.feed(path.read_text(encoding="utf-8"))
    return c


def broken_links(html_dir):
    """``[(page, link, reason)]`` for every internal link that does not resolve."""
    html_dir = Path(html_dir)
    parsed = {p: _parse(p) for p in html_dir.rglob("*.html")}
    problems = []
    for page, c in parsed.items():
        for link in c.links:
            parts = urlsplit(link)
            if parts.scheme in ("http", "https", "mailto", "data") or link.startswith("javascript:"):
                continue
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if not target.exists():
                problems.append((page.relative_to(html_dir), link, "no such file"))
            elif parts.fragment and target.suffix == ".html":
                ids = parsed[target].ids if target in parsed else _parse(target).ids
                if unquote(parts.fragment) not in ids:
                    problems.append((page.relative_to(html_dir), link, "no such anchor"))
    return problems


def console_messages(html_dir, chromium="chromium", timeout=60):
    """``[(page, message)]`` for every console message Chromium logs while loading each page."""
    out = []
    for page in sorted(Path(html_dir).rglob("*.html")):
        proc = subprocess.run([chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr",
                               "--v=0", "--virtual-time-budget=3000", "--dump-dom", page.resolve().as_uri()],
                              capture_output=True, text=True, timeout=timeout)
        for line in proc.stderr.splitlines():
            m = re.search(r":CONSOLE(?:\(\d+\))?:?\d*\] (.*)", line)
            if m:
                out.append((page.relative_to(html_dir), m.group(1)))
        if "</html>" not in proc.stdout:
            out.append((page.relative_to(html_dir), f"page did not render (exit {proc.returncode})"))
    return out


_CLIPPED_PROBE = ("<script>window.addEventListener('load', () => {document.body.setAttribute('data-clipped', "
                  "[...document.querySelectorAll('pre, table')].filter(e => e.scrollWidth > e.clientWidth + 1 "
                  "&& getComputedStyle(e).overflowX !== 'visible' || e.getBoundingClientRect().right > "
                  "document.documentElement.clientWidth + 1).length);});</script>")


def clipped_blocks(html_dir, chromium="chromium", width=1280, timeout=60):
    """``[(page, n)]`` for pages where Chromium, ``width`` pixels wide, clips or scrolls ``n`` code blocks or tables.

    A block counts when its content is wider than its box (so it scrolls or is
    cut) or when it reaches past the window's right edge. Each page is copied
    beside itself with a probe script that writes the count into the DOM.
    """
    out = []
    for page in sorted(Path(html_dir).rglob("*.html")):
        if page.name.startswith("_probe_"):
            continue
        probe = page.with_name(f"_probe_{page.name}")
        probe.write_text(page.read_text(encoding="utf-8").replace("</body>", _CLIPPED_PROBE + "</body>"),
                         encoding="utf-8")
        try:
            proc = subprocess.run([chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                                   f"--window-size={width},1000", "--virtual-time-budget=3000", "--dump-dom",
                                   probe.resolve().as_uri()], capture_output=True, text=True, timeout=timeout)
        finally:
            probe.unlink(missing_ok=True)
        m = re.search(r'data-clipped="(\d+)"', proc.stdout)
        n = int(m.group(1)) if m else -1
        if n != 0:
            out.append((page.relative_to(html_dir), n))
    return out


def screenshot(page, path, chromium="chromium", size=(1280, 1000)):
    subprocess.run([chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--window-size={size[0]},{size[1]}", f"--screenshot={Path(path).resolve()}",
                    Path(page).resolve().as_uri()], capture_output=True, timeout=60, check=True)
    return path


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("html_dir")
    p.add_argument("--chromium", default="chromium")
    p.add_argument("--no-browser", action="store_true", help="links only")
    p.add_argument("--screenshot", help="write a PNG screenshot of index.html here")
    args = p.parse_args(argv)
    problems = [f"{page}: broken link {link} ({why})" for page, link, why in broken_links(args.html_dir)]
    if not args.no_browser:
        if shutil.which(args.chromium) is None:
            problems.append(f"{args.chromium} not found (install Debian's chromium, or pass --no-browser)")
        else:
            problems += [f"{page}: console: {msg}" for page, msg in console_messages(args.html_dir, args.chromium)]
            if args.screenshot:
                screenshot(Path(args.html_dir) / "index.html", args.screenshot, args.chromium)
    for line in problems:
        print(line)
    print(f"{len(problems)} problems in {args.html_dir}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
