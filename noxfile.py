"""nox sessions: `nox -s tests` and `nox -s lint`. Both install with the tested constraints."""

import nox

nox.options.sessions = ["lint", "tests"]


@nox.session
def tests(session):
    session.install("-c", "constraints.txt", "-e", ".[test]")
    session.run("pytest", "-q", *session.posargs)


@nox.session
def lint(session):
    session.install("-c", "constraints.txt", "ruff")
    session.run("ruff", "check", ".")
