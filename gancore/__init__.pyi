"""The names of gancore's public API and where each is defined: read by type checkers, and by
``lazy_loader`` in ``__init__.py``, which loads each on first use (one list, not two)."""

# the plugin manager's marker
from .plugins import hookimpl as hookimpl

# component bases and their options
from .components import (
    option as option,
    Component as Component,
    Loss as Loss,
    Regularizer as Regularizer,
    CriticStep as CriticStep,
    LipschitzMonitor as LipschitzMonitor,
    Sampler as Sampler,
    Prior as Prior,
    LRSchedule as LRSchedule,
    SampleWeighting as SampleWeighting,
    Callback as Callback,
    Network as Network,
    Dataset as Dataset,
    Augmentation as Augmentation,
)

# what a dataset's evaluation() returns: the contract, and the implementations gancore ships
from .evaluation import Evaluation as Evaluation, EvalSettings as EvalSettings, Metric as Metric
from .eval.images import ImageEvaluation as ImageEvaluation
from .eval.features import FeatureNetSpec as FeatureNetSpec
from .eval.modes import ModeEvaluation as ModeEvaluation

# the records hooks receive
from .records import (
    DataSpec as DataSpec,
    Data as Data,
    GANModel as GANModel,
    CriticStepContext as CriticStepContext,
    GeneratorStepContext as GeneratorStepContext,
    StepLosses as StepLosses,
    CriticStepResult as CriticStepResult,
    GeneratorStepResult as GeneratorStepResult,
    SharedState as SharedState,
    MonitorContext as MonitorContext,
    RunProgress as RunProgress,
    StepEnd as StepEnd,
)

# errors a plugin may raise (each is one line to the user)
from .errors import (
    GancoreError as GancoreError,
    ConfigError as ConfigError,
    PluginError as PluginError,
    CheckpointError as CheckpointError,
    DataError as DataError,
    warn as warn,
)

# tensor functions shared by techniques (a gradient penalty, a chain of augmentations, DiffAugment's
# image transforms)
from .functional import (
    compose as compose,
    interpolates as interpolates,
    input_gradient_norms as input_gradient_norms,
    gradient_penalty as gradient_penalty,
    mean_over_processes as mean_over_processes,
    flip as flip,
    translate as translate,
    cutout as cutout,
)

# helpers for dataset plugins
from .io.data import load_torchvision_images as load_torchvision_images, gaussian_mixture as gaussian_mixture
