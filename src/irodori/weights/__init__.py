"""Pretrained weight files: a small record per file, found without surprises, loaded with every mismatch named.

* :mod:`~irodori.weights.records`: the two record types, :class:`PublishedWeights` (a file used as
  it is published) and :class:`ConvertedWeights` (a file ``irodori convert-weights`` makes);
* :mod:`~irodori.weights.catalog`: every record irodori uses;
* :mod:`~irodori.weights.resolve`: :func:`resolve`, in order (timm / torch.hub style)
    1. an explicit path given by the caller,
    2. the environment variable named in the record (e.g. ``IRODORI_VGG19``),
    3. the cache dir ``$IRODORI_CACHE`` (default ``~/.cache/irodori``) and, for published files,
       torch hub's ``$TORCH_HOME/hub/checkpoints`` (default ``~/.cache/torch/hub/checkpoints``),
    4. for published files, a download from the URL into the cache dir, unless downloads are
       disabled (``IRODORI_OFFLINE=1``) or the machine is offline;

  a published file is checked against the record's SHA-256 (a full digest or, for files published
  the torch.hub way, the hex prefix carried in the file name) before use;
* :mod:`~irodori.weights.converted`: the converted-file format (safetensors, content hash);
* :mod:`~irodori.weights.state`: :func:`load_state_checked`, the one way a state dict goes into a network;
* :mod:`~irodori.convert`: the converters (nsfwjs InceptionV3, sketchKeras, Sketch
  Simplification), imported only by ``irodori convert-weights`` (they import the networks).
"""

from irodori.weights.catalog import (
    CONVERTED, FID_INCEPTION, NSFWJS_INCEPTION, SIMPLIFICATION, SKETCHKERAS, VGG19_IMAGENET,
)
from irodori.weights.converted import load_converted, read_metadata, save_converted
from irodori.weights.files import cache_dir, sha256_of, torch_hub_dir
from irodori.weights.records import ConvertedWeights, PublishedWeights
from irodori.weights.resolve import candidates, downloads_allowed, on_disk, resolve, verify
from irodori.weights.state import load_state_checked, read_torch_state

__all__ = [
    "CONVERTED", "ConvertedWeights", "FID_INCEPTION", "NSFWJS_INCEPTION", "PublishedWeights", "SIMPLIFICATION",
    "SKETCHKERAS", "VGG19_IMAGENET", "cache_dir", "candidates", "downloads_allowed", "load_converted",
    "load_state_checked", "on_disk", "read_metadata", "read_torch_state", "resolve", "save_converted",
    "sha256_of", "torch_hub_dir", "verify",
]
