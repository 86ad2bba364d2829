"""jaxlint.solver: an ODE solver on JAX + Equinox whose program does not grow with save points.

The public names follow diffrax, so moving a script between the two is a change of import::

    from jaxlint.solver import diffeqsolve, ODETerm, Tsit5, PIDController, SaveAt

    sol = diffeqsolve(ODETerm(lambda t, y, args: -y), Tsit5(), t0=0.0, t1=1.0, dt0=None,
                      y0=1.0, saveat=SaveAt(ts=jnp.linspace(0, 1, 100)),
                      stepsize_controller=PIDController(rtol=1e-6, atol=1e-8))
"""

from ._adjoint import (
    AbstractAdjoint,
    BacksolveAdjoint,
    DirectAdjoint,
    ForwardMode,
    RecursiveCheckpointAdjoint,
)
from ._adjoint_term import AdjointTerm
from ._bosh3 import Bosh3
from ._dopri5 import Dopri5
from ._dop853 import DOP853
from ._dopri8 import Dopri8
from ._euler import Euler
from ._event import (
    AbstractDiscreteTerminatingEvent,
    AbstractRootFinder,
    Bisection,
    DiscreteTerminatingEvent,
    Event,
    NewtonBisection,
    SteadyStateEvent,
    steady_state_event,
)
from ._diffeqsolve import diffeqsolve
from ._global_interpolation import (
    AbstractGlobalInterpolation,
    CubicInterpolation,
    LinearInterpolation,
)
from ._half_solver import HalfSolver
from ._implicit import ImplicitEuler
from ._implicit_adjoint import ImplicitAdjoint
from ._interpolation import (
    AbstractLocalInterpolation,
    DenseInterpolation,
    LocalLinearInterpolation,
    ThirdOrderHermitePolynomialInterpolation,
)
from ._kvaerno import Kvaerno3, Kvaerno4, Kvaerno5
from ._leapfrog_midpoint import LeapfrogMidpoint
from ._missing_data import (
    backward_hermite_coefficients,
    linear_interpolation,
    rectilinear_interpolation,
)
from ._multi_tableau import CalculateJacobian, MultiButcherTableau
from ._newton import Newton, VeryChord, with_stepsize_controller_tols
from ._progress_meter import (
    AbstractProgressMeter,
    NoProgressMeter,
    TextProgressMeter,
    TqdmProgressMeter,
)
from ._results import RESULTS
from ._reversible_heun import ReversibleHeun
from ._rk2 import Heun, Midpoint, Ralston
from ._runge_kutta import AbstractRungeKutta, ButcherTableau
from ._saveat import SaveAt, SubSaveAt
from ._seminorm import adjoint_rms_seminorm
from ._solution import Solution
from ._solver_base import (
    AbstractAdaptiveSolver,
    AbstractImplicitSolver,
    AbstractSolver,
    AbstractWrappedSolver,
)
from ._step_size_controller import (
    AbstractStepSizeController,
    ClipStepSizeController,
    ConstantStepSize,
    PIDController,
    StepTo,
    rms_norm,
)
from ._term import AbstractTerm, MultiTerm, ODETerm
from ._tsit5 import Tsit5

__all__ = [
    "diffeqsolve",
    "AbstractTerm",
    "ODETerm",
    "MultiTerm",
    "AdjointTerm",
    "AbstractSolver",
    "AbstractAdaptiveSolver",
    "AbstractImplicitSolver",
    "AbstractWrappedSolver",
    "HalfSolver",
    "AbstractRungeKutta",
    "ButcherTableau",
    "MultiButcherTableau",
    "CalculateJacobian",
    "Euler",
    "Heun",
    "Midpoint",
    "Ralston",
    "Bosh3",
    "Tsit5",
    "Dopri5",
    "Dopri8",
    "DOP853",
    "ReversibleHeun",
    "LeapfrogMidpoint",
    "ImplicitEuler",
    "Kvaerno3",
    "Kvaerno4",
    "Kvaerno5",
    "Newton",
    "VeryChord",
    "with_stepsize_controller_tols",
    "AbstractStepSizeController",
    "ConstantStepSize",
    "StepTo",
    "PIDController",
    "ClipStepSizeController",
    "rms_norm",
    "SaveAt",
    "SubSaveAt",
    "Solution",
    "RESULTS",
    "AbstractAdjoint",
    "RecursiveCheckpointAdjoint",
    "DirectAdjoint",
    "ForwardMode",
    "BacksolveAdjoint",
    "ImplicitAdjoint",
    "adjoint_rms_seminorm",
    "AbstractProgressMeter",
    "NoProgressMeter",
    "TextProgressMeter",
    "TqdmProgressMeter",
    "Event",
    "AbstractRootFinder",
    "Bisection",
    "NewtonBisection",
    "steady_state_event",
    "AbstractDiscreteTerminatingEvent",
    "DiscreteTerminatingEvent",
    "SteadyStateEvent",
    "AbstractLocalInterpolation",
    "LocalLinearInterpolation",
    "ThirdOrderHermitePolynomialInterpolation",
    "DenseInterpolation",
    "AbstractGlobalInterpolation",
    "LinearInterpolation",
    "CubicInterpolation",
    "linear_interpolation",
    "rectilinear_interpolation",
    "backward_hermite_coefficients",
]
