"""The pre-receive hook installed in every app repository.

git runs it while the push is still open, so everything it prints reaches the
pusher as `remote:` lines. Tags and branches other than main/master are kept
without a build; a pushed main (or master) is sent as `git archive` of the
pushed commit to the platform, and the build output relayed; a non-zero exit
rejects the whole push, so a failed build stores no ref. Submodules are not
fetched (`git archive` leaves them out); the push says so.
It uses only the standard library: it runs under the server's interpreter but
outside its process.
"""

from __future__ import annotations

HOOK_TEMPLATE = r"""#!{python}
# Installed by Slipway; rewritten at every push. Do not edit.
import os
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request

ZERO = "0" * 40
DEPLOYABLE = ("refs/heads/main", "refs/heads/master")
RESULT = "\x00slipway-result:"


def say(line=""):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def gitlinks(commit):
    # The paths of the submodules (mode 160000 entries) in a commit's tree.
    listed = subprocess.run(
        ["git", "ls-tree", "-r", "-z", commit], capture_output=True
    ).stdout.decode("utf-8", "replace")
    return [entry.split("\t", 1)[1] for entry in listed.split("\0") if entry.startswith("160000 ")]


def main():
    token = os.environ.get("SLIPWAY_PUSH_TOKEN")
    url = os.environ.get("SLIPWAY_DEPLOY_URL")
    if not token or not url:
        say(" !     Pushes must go through the Slipway git server.")
        return 1
    target = None
    other_branch = False
    for line in sys.stdin:
        parts = line.split()
        if len(parts) != 3:
            continue
        old, new, ref = parts
        if ref not in DEPLOYABLE:
            # Kept, not built, as Heroku does: tags (`git push --follow-tags`) and
            # other branches must not reject the main branch pushed with them.
            other_branch = other_branch or ref.startswith("refs/heads/")
            continue
        if new == ZERO:
            say(" !     Deleting the main branch of an app is not allowed.")
            return 1
        current = subprocess.run(
            ["git", "rev-parse", "--verify", "--quiet", ref], capture_output=True, text=True
        ).stdout.strip() or ZERO
        if current != old:
            say(" !     Another push updated " + ref[11:] + " while this one waited.")
            say(" !     Fetch, merge or rebase, and push again.")
            return 1
        target = new
    if target is None:
        if other_branch:
            say("Pushed to non-main branch, skipping build.")
            say("Only main or master deploy; push with `git push <remote> HEAD:main`.")
        return 0
    say("Building source:")
    say()
    submodules = gitlinks(target)
    if submodules:
        say(" !     Warning: this commit has git submodules (" + ", ".join(submodules) + ");")
        say(" !     their files are not fetched into the build. Commit them into the")
        say(" !     repository (or vendor them) if the app needs them.")
    with tempfile.TemporaryFile() as tar:
        archive = subprocess.run(
            ["git", "archive", "--format=tar", target], stdout=tar, stderr=subprocess.PIPE
        )
        if archive.returncode != 0:
            detail = archive.stderr.decode(errors="replace").strip()
            say(" !     Could not read the pushed commit: " + detail)
            return 1
        size = tar.tell()
        tar.seek(0)
        request = urllib.request.Request(
            url + "?version=" + target,
            data=tar,
            method="POST",
            headers={
                "Authorization": "Bearer " + token,
                "Content-Type": "application/x-tar",
                "Content-Length": str(size),
            },
        )
        ok = False
        try:
            with urllib.request.urlopen(request, timeout=4 * 3600) as response:
                for raw in response:
                    text = raw.decode("utf-8", "replace").rstrip("\n")
                    if text.startswith(RESULT):
                        ok = text[len(RESULT):].strip() == "ok"
                    else:
                        say(text)
        except urllib.error.HTTPError as exc:
            say(" !     " + exc.read().decode("utf-8", "replace").strip())
        except OSError as exc:
            say(" !     Lost the connection to the Slipway server: %s" % exc)
    say()
    if ok:
        say("Verifying deploy... done.")
        return 0
    say(" !     Push failed")
    return 1


sys.exit(main())
"""


def render_hook(python: str) -> str:
    return HOOK_TEMPLATE.replace("{python}", python, 1)
