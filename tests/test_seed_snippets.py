"""The founding article's snippets (../shared/seed), verbatim but for the import, read back exactly.

Each snippet is kept below as the article prints it; only ``from mxboard import SummaryWriter`` became
``from mxnet_tb import SummaryWriter``. The MNIST snippets run inside a small Gluon training loop on
generated data shaped like MNIST (no downloads here).
"""

import numpy as np
import pytest

from .readback import accumulate, scalars, tensors

SNIPPET_WRITER = """
from mxnet_tb import SummaryWriter
sw = SummaryWriter(logdir='./logs')
"""

SNIPPET_HISTOGRAM = """
import mxnet as mx
for i in range(10):
    # create a normal distribution with fixed mean and decreasing std
    data = mx.nd.random.normal(loc=0, scale=10.0/(i+1), shape=(10, 3, 8, 8))
    sw.add_histogram(tag='norml_dist', values=data, bins=200, global_step=i)
sw.close()
"""

SNIPPET_MNIST_WRITER = """
sw = SummaryWriter(logdir='./logs', flush_secs=5)
"""

SNIPPET_MNIST_BATCH = """
sw.add_scalar(tag='cross_entropy', value=L.mean().asscalar(), global_step=global_step)
"""

SNIPPET_MNIST_EPOCH = """
grads = [i.grad() for i in net.collect_params().values()]
assert len(grads) == len(param_names)
# logging the gradients of parameters for checking convergence
for i, name in enumerate(param_names):
    sw.add_histogram(tag=name, values=grads[i], global_step=epoch, bins=1000)

name, acc = metric.get()
# logging training accuracy
sw.add_scalar(tag='train_acc', value=acc, global_step=epoch)

name, val_acc = test(ctx)
# logging the validation accuracy
sw.add_scalar(tag='valid_acc', value=val_acc, global_step=epoch)
"""


def test_normal_distribution_histogram_snippet(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(SNIPPET_WRITER + SNIPPET_HISTOGRAM, namespace)
    read = tensors(tmp_path / "logs", "norml_dist")
    assert [step for step, _ in read] == list(range(10))
    stds = []
    for _, buckets in read:
        assert buckets[:, 2].sum() == 10 * 3 * 8 * 8
        centers = (buckets[:, 0] + buckets[:, 1]) / 2
        mean = (centers * buckets[:, 2]).sum() / 1920
        stds.append(np.sqrt((buckets[:, 2] * (centers - mean) ** 2).sum() / 1920))
    assert stds == sorted(stds, reverse=True)  # the std shrinks step by step
    assert stds[0] == pytest.approx(10.0, rel=0.15) and stds[-1] == pytest.approx(1.0, rel=0.15)


def _mnist_like(n, seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    centers = np.random.default_rng(99).standard_normal((10, 28 * 28)).astype(np.float32)
    images = centers[labels] + 0.5 * rng.standard_normal((n, 28 * 28)).astype(np.float32)
    return images.reshape(n, 1, 28, 28), labels.astype(np.float32)


def test_gluon_mnist_snippets(tmp_path, monkeypatch):
    import mxnet as mx
    from mxnet import autograd, gluon
    from mxnet.gluon import nn

    monkeypatch.chdir(tmp_path)
    mx.random.seed(0)
    ctx = mx.cpu()
    train_data = gluon.data.DataLoader(gluon.data.ArrayDataset(*_mnist_like(512, 0)), batch_size=64, shuffle=True)
    val_data = gluon.data.DataLoader(gluon.data.ArrayDataset(*_mnist_like(256, 1)), batch_size=64)

    net = nn.HybridSequential()
    net.add(nn.Dense(64, activation="relu"), nn.Dense(10))
    net.initialize(mx.init.Xavier(), ctx=ctx)
    param_names = list(net.collect_params().keys())
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    metric = mx.metric.Accuracy()

    def test(ctx):
        val_metric = mx.metric.Accuracy()
        for data, label in val_data:
            val_metric.update([label.as_in_context(ctx)], [net(data.as_in_context(ctx))])
        return val_metric.get()

    namespace = {"ctx": ctx, "net": net, "param_names": param_names, "metric": metric, "test": test}
    exec(SNIPPET_WRITER.replace("sw = SummaryWriter(logdir='./logs')\n", "") + SNIPPET_MNIST_WRITER, namespace)

    losses, train_accs, valid_accs, last_grads = [], [], [], {}
    global_step = 0
    for epoch in range(3):
        metric.reset()
        for data, label in train_data:
            with autograd.record():
                output = net(data)
                L = loss(output, label)
            L.backward()
            trainer.step(data.shape[0])
            metric.update([label], [output])
            namespace.update(L=L, global_step=global_step)
            exec(SNIPPET_MNIST_BATCH, namespace)
            losses.append(float(L.mean().asscalar()))
            global_step += 1
        namespace["epoch"] = epoch
        exec(SNIPPET_MNIST_EPOCH, namespace)
        train_accs.append(metric.get()[1])
        valid_accs.append(test(ctx)[1])
        last_grads = {name: p.grad().asnumpy() for name, p in net.collect_params().items()}
    namespace["sw"].close()

    logdir = tmp_path / "logs"
    assert scalars(logdir, "cross_entropy") == [(s, pytest.approx(v, rel=1e-6)) for s, v in enumerate(losses)]
    assert scalars(logdir, "train_acc") == [(e, pytest.approx(a, rel=1e-6)) for e, a in enumerate(train_accs)]
    assert scalars(logdir, "valid_acc") == [(e, pytest.approx(a, rel=1e-6)) for e, a in enumerate(valid_accs)]
    assert valid_accs[-1] > 0.9  # it really trained
    assert set(accumulate(logdir).Tags()["tensors"]) == {"cross_entropy", "train_acc", "valid_acc", *param_names}
    for name in param_names:
        read = tensors(logdir, name)
        assert [step for step, _ in read] == [0, 1, 2]
        grad = last_grads[name].astype(np.float64)
        counts, _ = np.histogram(grad, bins=1000)
        assert read[-1][1][:, 2].tolist() == counts.tolist()
