"""The search core: query validation and understanding, ranking, the match verdict, urgent-care notices,
snippets, suggestions, credit and evaluation, and the search service that runs one query through them.

Flask-free: a command line, a notebook or the web layer (``search_app.web``... the views, API and server
beside this package) call ``search.run`` and get one ``SearchOutcome``.
"""
