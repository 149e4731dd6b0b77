"""FITS files in and out, for the command line and the batch runs (astropy only, no Keras).

``paths``
    What the command line's PATHs name: files, folders, ``.list`` files,
    ``FILE[N]`` and ``FILE[EXTNAME]`` (`expand_paths`, `parse_hdu_suffix`),
    the output name of each input (`output_path`), and `Failure`, the error
    of a file that cannot be processed.
``reading``
    Opening an input read-only, with one clear `Failure` for each way a
    file can be broken, and the image HDUs to process.
``sections``
    Where a frame holds exposed data: the header's ``TRIMSEC``/``DATASEC``,
    minus unexposed rows and columns at its borders (`detection_region`).
``writing``
    Output files that appear whole or not at all (`write_atomically`), and
    `rewrite_file`: an input's HDU structure with its image HDUs processed,
    and `science_header`, the cards an output HDU keeps from its input.

Each module imports only those above it in this list.
"""

from astromask.io.paths import (
    FITS_SUFFIXES,
    Failure,
    expand_paths,
    output_path,
    parse_hdu_suffix,
)
from astromask.io.reading import (
    NON_SCIENCE_EXTNAMES,
    READ_ERRORS,
    check_input,
    image_hdus,
    is_science,
    nothing_to_do,
    read_input,
    resolve_hdu,
)
from astromask.io.sections import detection_region, exposed, parse_section
from astromask.io.writing import rewrite_file, science_header, write_atomically

__all__ = [
    "FITS_SUFFIXES",
    "NON_SCIENCE_EXTNAMES",
    "READ_ERRORS",
    "Failure",
    "check_input",
    "detection_region",
    "expand_paths",
    "exposed",
    "image_hdus",
    "is_science",
    "nothing_to_do",
    "output_path",
    "parse_hdu_suffix",
    "parse_section",
    "read_input",
    "resolve_hdu",
    "rewrite_file",
    "science_header",
    "write_atomically",
]
