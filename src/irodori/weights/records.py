"""The two kinds of weight file: one used as it is published, one converted from what the authors publish.

Both are found the same way (:func:`irodori.weights.resolve`); they differ in how a file is
checked and what happens when it is missing:

* a :class:`PublishedWeights` file is checked against the SHA-256 in its record and downloaded
  from its URL when allowed;
* a :class:`ConvertedWeights` file is made once by ``irodori convert-weights NAME SRC`` and carries
  a SHA-256 of its tensors in its metadata (:mod:`irodori.weights.converted`); it is never downloaded.

The records themselves are in :mod:`irodori.weights.catalog`.
"""

from __future__ import annotations

from dataclasses import dataclass

from irodori.weights.files import cache_dir


@dataclass(frozen=True)
class PublishedWeights:
    """A weight file used as it is published (torchvision's VGG19, pytorch-fid's InceptionV3)."""

    name: str
    filename: str
    url: str
    #: Full SHA-256 hex digest, or a prefix of it (torch.hub file-name convention).
    sha256: str
    env_var: str
    description: str = ""


@dataclass(frozen=True)
class ConvertedWeights:
    """A weight file made by ``irodori convert-weights`` from a file the authors publish."""

    #: The converter name (``irodori convert-weights NAME``).
    name: str
    #: File name in the cache dir.
    filename: str
    #: Environment variable that may point at the converted file.
    env_var: str
    #: ``format`` tag in the file's metadata.
    format: str
    #: The published file the converter reads, and where it is published.
    source_filename: str
    source_url: str
    #: SHA-256 of the published file when known ("" = not known: recorded at conversion, not checked).
    source_sha256: str = ""
    description: str = ""
    license: str = ""
    #: How to make the file, when it is not "download the source, run :attr:`convert_command`".
    how_to_convert: str = ""
    #: Accept files without a content hash (written before irodori recorded one); checked when present.
    content_hash_optional: bool = False

    @property
    def convert_command(self) -> str:
        return f"irodori convert-weights {self.name} {self.source_filename}"

    def how_to_get(self) -> str:
        make = self.how_to_convert or (f"Download {self.source_filename} ({self.source_url}) and convert it "
                                       f"once with `{self.convert_command}`")
        return f"{make} (writes {cache_dir() / self.filename}), or set ${self.env_var} to a converted file"
