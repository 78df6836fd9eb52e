"""The converters behind ``irodori convert-weights NAME SRC``, one module each, side by side.

* :mod:`~irodori.convert.nsfwjs`: nsfwjs' TF.js InceptionV3 -> :data:`irodori.weights.NSFWJS_INCEPTION`;
* :mod:`~irodori.convert.sketchkeras`: sketchKeras' Keras ``mod.h5`` -> :data:`irodori.weights.SKETCHKERAS`;
* :mod:`~irodori.convert.simplification`: Sketch Simplification's ``model_gan.pth`` ->
  :data:`irodori.weights.SIMPLIFICATION`.

Each imports the network it converts for (from :mod:`irodori.eval` or :mod:`irodori.extractors`), so
nothing imports this package but the CLI and tests; the networks only load the converted files.
"""
