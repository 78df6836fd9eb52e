"""The converters behind ``irodori convert-weights NAME SRC``, one module each, side by side.

* :mod:`~irodori.weights.convert.nsfwjs`: nsfwjs' TF.js InceptionV3 -> :data:`irodori.weights.NSFWJS_INCEPTION`;
* :mod:`~irodori.weights.convert.sketchkeras`: sketchKeras' Keras ``mod.h5`` -> :data:`irodori.weights.SKETCHKERAS`;
* :mod:`~irodori.weights.convert.simplification`: Sketch Simplification's ``model_gan.pth`` ->
  :data:`irodori.weights.SIMPLIFICATION`.

Each imports the network it converts for (from :mod:`irodori.eval` or :mod:`irodori.extractors`), so
nothing imports this package but the CLI and tests; the networks only load the converted files.
"""
