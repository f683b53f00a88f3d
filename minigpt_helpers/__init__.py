"""minigpt_helpers: the code behind the mini-GPT-from-books course.

One module per pipeline stage (sources, cleaning, tokenization, dataset, model, training,
evaluation, generation, chat, serving, export) plus small shared pieces (profiles,
artifacts, checks, widgets). Importing the package does nothing but define names:
no device probing, no logging set-up, no downloads.
"""

__version__ = "0.1.0"

# Where the course lives (pyproject.toml's [project.urls]); the notebooks' Colab badges and setup
# cells point here. `python tasks.py repo OWNER/NAME` changes all of them at once, for a fork.
REPO_SLUG = "minigpt-course/minigpt-from-books"
REPO_URL = f"https://github.com/{REPO_SLUG}"
