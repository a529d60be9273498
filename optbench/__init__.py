"""optbench: a command-line benchmark for gradient-based optimizers.

Public API: :func:`optbench.config.load`, :func:`optbench.runner.run`,
:func:`optbench.results.save` / :func:`optbench.results.load`, and the registries
:data:`optbench.functions.FUNCTIONS` and :data:`optbench.optimizers.OPTIMIZERS`.
"""

__version__ = "0.1.0"
