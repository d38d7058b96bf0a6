"""Outcomes: what became of generated code, and the plan's success metrics from it.

``events`` builds outcome rows at decision points and writes them in the background;
``retention`` measures how much of accepted code is still there; ``metrics`` computes
the plan's numbers; ``report`` renders them to one offline HTML file. Only counts,
times and ratios are stored: never the code, the prompt or the document.
"""
