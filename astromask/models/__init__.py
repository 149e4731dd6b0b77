"""The networks, in Keras 3: no astropy, no weight files.

Keras is loaded here through `astromask._backend.load_keras`, before any
module of this package imports it: a missing backend is reported in one
line, and TensorFlow's start-up chatter is dropped.
"""

from astromask._backend import load_keras

load_keras()
