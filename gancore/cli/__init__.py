"""The `gan` command line: one module per command; this one builds the app and registers them.

Commands import torch and the engine inside their bodies only, so that `gan --help` stays fast.
"""

from __future__ import annotations

import os
import sys

# OpenMP's worker threads sleep instead of spinning while they wait: with more threads than free
# cores (other jobs on the machine) spinning made a run 15x slower; measured in docs/usage.md. Set
# before torch is imported (the commands import it), and only where the user has not chosen.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import typer

from gancore.cli import eval as eval_cli
from gancore.cli import plot, plugins, report, run, sample, sweep, tune
from gancore.cli.component_options import OneLineCommand, OneLineGroup, RunCommand, SamplerCommand
from gancore.cli.shared import reports_errors

app = typer.Typer(
    name="gan",
    cls=OneLineGroup,
    help="Train, sample and compare GANs; every technique is a plugin you name on the command line.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    add_completion=False,
)
app.command(
    cls=RunCommand,
    # unknown flags are left to RunCommand, which reports them in one line with the closest flag
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    epilog="Each component's flags (e.g. --saturating, --dropout 0.3) are in its own panel above;"
    " `gan plugins show NAME` describes a component.",
)(reports_errors(run.run))
#: unknown flags are left to the command class, which reports them in one line with the closest flag
LENIENT = {"allow_extra_args": True, "ignore_unknown_options": True}
SAMPLER_FLAGS = (
    "The sampler's flags (e.g. --drs-gamma p80) are in its own panel above; they override the run's."
)
app.command(cls=SamplerCommand, context_settings=LENIENT, epilog=SAMPLER_FLAGS)(reports_errors(sample.sample))
for command in (plot.plot, report.report, sweep.sweep):
    app.command(cls=OneLineCommand)(reports_errors(command))
app.command(cls=OneLineCommand, epilog=tune.EXAMPLE)(reports_errors(tune.tune))
app.command("eval", cls=SamplerCommand, context_settings=LENIENT, epilog=SAMPLER_FLAGS)(
    reports_errors(eval_cli.eval_command)
)

plugins_app = typer.Typer(cls=OneLineGroup, help="List installed plugins, or show one component's options.")
plugins_app.callback(invoke_without_command=True)(reports_errors(plugins.plugins))
plugins_app.command("show", cls=OneLineCommand)(reports_errors(plugins.plugins_show))
app.add_typer(plugins_app, name="plugins")

evaluator_app = typer.Typer(
    cls=OneLineGroup, help="Build and list the feature networks behind `gan eval`.", no_args_is_help=True
)
evaluator_app.command("train", cls=OneLineCommand)(reports_errors(eval_cli.train_command))
evaluator_app.command("list", cls=OneLineCommand)(reports_errors(eval_cli.list_command))
app.add_typer(evaluator_app, name="evaluator")


def main() -> None:
    app()


if __name__ == "__main__":
    sys.exit(main())
