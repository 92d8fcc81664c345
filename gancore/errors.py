"""The errors gancore reports to a user as one line, with the exit code each one gets."""

from __future__ import annotations


class GancoreError(Exception):
    """A problem a user can fix: bad input, a missing file, a clash between plugins (exit 2)."""

    exit_code = 2


class ConfigError(GancoreError):
    """A setting, flag or config file that cannot be used as given."""


class PluginError(GancoreError):
    """A plugin that cannot be loaded, or names that cannot be resolved in the registry."""


class CheckpointError(GancoreError):
    """A checkpoint that is missing, truncated, corrupt or does not fit the run's networks."""


class DataError(GancoreError):
    """A dataset that cannot be found or downloaded."""


class Diverged(GancoreError):
    """Training produced a non-finite loss; the last good checkpoint is kept (exit 1)."""

    exit_code = 1


class PeerLost(GancoreError):
    """Another process of a torchrun run stopped or was killed; this one stops too (exit 1)."""

    exit_code = 1


class Interrupted(GancoreError):
    """Ctrl-C: a checkpoint was saved and the run can be resumed (exit 130, as shells expect)."""

    exit_code = 130


class InterruptedTwice(KeyboardInterrupt):
    """A second Ctrl-C (or SIGTERM) while the first one's checkpoint was pending: stop without saving."""


def warn(message: str) -> None:
    """One warning line on stderr (looked up at call time, so a test runner's capture sees it)."""
    import sys

    sys.stderr.write(f"gancore: warning: {message}\n")
