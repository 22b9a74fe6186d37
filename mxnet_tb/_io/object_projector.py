"""Embeddings for TensorBoard's projector in object storage: the same layout as ``projector.py``, as objects.

A (tag, step) goes to ``embeddings/<tag>/<step>-<random>/`` (a name never used before, so a replaced embedding
never has its objects overwritten while a reader holds the config that names them); then the run's
``projector_config.pbtxt`` is read, merged (the entry of that tensor name replaced, or added) and stored
again: that store is the moment the embedding appears. The objects of the entry it replaced are removed after.
Object stores have no locks: two processes adding embeddings to one run at once can lose an entry (each
worker of a distributed job writes its own run, ``worker-<rank>``).

Example::

    >>> write_embedding_objects(store, "runs/exp1", "features", 3, {"tensors.bytes": data}, info)  # doctest: +SKIP
"""

from __future__ import annotations

import secrets

from google.protobuf import text_format
from tensorboard.plugins.projector import metadata
from tensorboard.plugins.projector.projector_config_pb2 import EmbeddingInfo, ProjectorConfig

from .object_store import ObjectStore
from .projector import EMBEDDINGS_DIR, MAX_CONFIG_BYTES, embedding_dir, tag_dir_name

__all__ = ["write_embedding_objects"]


def _read_config(store: ObjectStore, key: str) -> ProjectorConfig:
    config = ProjectorConfig()
    if not store.exists(key):
        return config
    data = store.get(key, MAX_CONFIG_BYTES + 1)
    if len(data) > MAX_CONFIG_BYTES:
        raise ValueError(f"cannot add an embedding: {store.url_prefix + key} is over {MAX_CONFIG_BYTES} bytes")
    try:
        text_format.Parse(data.decode("utf-8"), config)
    except (text_format.ParseError, UnicodeDecodeError) as exc:
        where = store.url_prefix + key
        raise ValueError(f"cannot add an embedding: {where} is not a valid projector config ({exc})") from None
    return config


def write_embedding_objects(
    store: ObjectStore, run_key: str, tag: str, step: int, files: dict[str, bytes], info: EmbeddingInfo
) -> str:
    """Store ``files`` of (``tag``, ``step``) and merge ``info`` into the run's config; returns the new prefix."""
    config_key = "/".join(p for p in (run_key, metadata.PROJECTOR_FILENAME) if p)
    _read_config(store, config_key)  # a config that cannot be merged is refused before anything is written
    planned = embedding_dir(tag, step)
    relative = f"{EMBEDDINGS_DIR}/{tag_dir_name(tag)}/{step:05d}-{secrets.token_hex(4)}"
    prefix = "/".join(p for p in (run_key, relative) if p)
    for name, data in files.items():
        store.put(f"{prefix}/{name}", data)
    for holder, field in ((info, "tensor_path"), (info, "metadata_path"), (info.sprite, "image_path")):
        value = getattr(holder, field)
        if value.startswith(planned + "/"):
            setattr(holder, field, relative + value[len(planned) :])
    config = _read_config(store, config_key)
    replaced = [entry for entry in config.embeddings if entry.tensor_name == info.tensor_name]
    old_dirs = {entry.tensor_path.rsplit("/", 1)[0] for entry in replaced}
    for entry in replaced:  # keep the entry's place in the list
        entry.CopyFrom(info)
    if not replaced:
        config.embeddings.append(info)
    store.put(config_key, text_format.MessageToString(config).encode("utf-8"))
    for old in old_dirs - {relative}:
        for key in store.list("/".join(p for p in (run_key, old) if p)):
            store.delete(key)
    return store.url_prefix + prefix
