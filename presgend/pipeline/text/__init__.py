"""Words become slides: sentences, re-sentencing, sections and bullets, phrases, the
lexicon, fact fidelity, the optional model writer, slide rendering, captions.
"""
