import inspect
import subprocess
import sys

import mxnet_tb

EXPECTED = {
    "EncodeError",
    "EncodeWarning",
    "EventWriteError",
    "RankUnknownError",
    "EventWriteWarning",
    "StepOrderWarning",
    "SummaryWriter",
    "WriterClosedError",
    "__version__",
    "make_image_grid",
    # Module API
    "init",
    "default_writer",
    "scalars",
    "validation",
    "params",
    "GradMonitor",
    "WeightMonitor",
    "Doctor",
    "DoctorAlert",
    "ActivationMonitor",
    "Monitor",
    "MonitorGroup",
    "NonFiniteError",
    # zero-edit instrumentation of Module.fit (mxnet-tb run)
    "autolog",
    # where time and memory go
    "model_card",
    "profile",
    "ProfilerUnavailableError",
    # Gluon (a subpackage, imported on first use)
    "gluon",
}

GLUON_EXPECTED = {"EstimatorHandler", "Watch", "log_metrics", "watch"}


def test_public_names_are_exactly_the_intended_ones():
    assert set(mxnet_tb.__all__) == EXPECTED
    assert all(hasattr(mxnet_tb, name) for name in EXPECTED)


def test_every_public_callable_has_a_docstring_and_type_hints():
    writer = mxnet_tb.SummaryWriter
    public = [getattr(writer, n) for n in dir(writer) if not n.startswith("_")] + [writer.__init__]
    public = [m.fget if isinstance(m, property) else m for m in public]
    for member in public:
        assert inspect.getdoc(member), member
        assert "return" in member.__annotations__, member
    for name in EXPECTED - {"__version__"}:
        assert inspect.getdoc(getattr(mxnet_tb, name)), name
    factories = (mxnet_tb.init, mxnet_tb.default_writer, mxnet_tb.scalars, mxnet_tb.validation, mxnet_tb.params)
    for factory in (*factories, mxnet_tb.autolog):
        assert "return" in factory.__annotations__, factory
    monitors = (mxnet_tb.GradMonitor, mxnet_tb.WeightMonitor, mxnet_tb.ActivationMonitor, mxnet_tb.Monitor)
    for monitor in (*monitors, mxnet_tb.MonitorGroup):
        assert "return" in monitor.__init__.__annotations__, monitor


def test_importing_the_package_does_not_import_mxnet():
    code = "import sys, mxnet_tb; print('mxnet' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_writer_errors_are_the_documented_types():
    assert issubclass(mxnet_tb.EventWriteError, OSError)
    assert issubclass(mxnet_tb.WriterClosedError, RuntimeError)
    assert issubclass(mxnet_tb.StepOrderWarning, UserWarning)
    assert issubclass(mxnet_tb.EventWriteWarning, UserWarning)


def test_monitors_export_the_monitors_each_with_uninstall():
    import mxnet_tb.monitors as monitors

    expected = {"ActivationMonitor", "GradMonitor", "WeightMonitor", "Monitor", "MonitorGroup"}
    assert set(monitors.__all__) == expected  # the base is internal
    for name in monitors.__all__:
        uninstall = getattr(mxnet_tb, name).uninstall
        assert inspect.getdoc(uninstall) and "return" in uninstall.__annotations__, name


def test_gluon_names_are_exactly_the_intended_ones_and_documented():
    gluon = mxnet_tb.gluon
    assert set(gluon.__all__) == GLUON_EXPECTED
    for name in GLUON_EXPECTED:
        assert inspect.getdoc(getattr(gluon, name)), name
    for function in (gluon.watch, gluon.log_metrics, gluon.EstimatorHandler.__init__, gluon.Watch.log_metrics):
        assert "return" in function.__annotations__, function


def test_importing_the_package_does_not_import_gluon_until_it_is_used():
    code = (
        "import sys, mxnet_tb; print('mxnet_tb.gluon' in sys.modules); "
        "mxnet_tb.gluon.watch; print('mxnet' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "True"]
