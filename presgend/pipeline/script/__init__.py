"""A script becomes a talk: reading it, speech, voices, the presenter picture or SadTalker."""
