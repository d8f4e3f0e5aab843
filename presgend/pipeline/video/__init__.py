"""A recording's parts: probe, face framing, transcription (and its recogniser child),
loudness, composition, the preview sheet.
"""
