"""`safemigrate init`: set a Prisma project up (safemigrate.toml, npm scripts, .gitignore, CI, pre-commit)."""

from safemigrate.init.plan import (
    NPM_SCRIPTS,
    PIP_REQUIREMENT,
    FileChange,
    InitPlan,
    apply_init,
    plan_init,
)

__all__ = ["NPM_SCRIPTS", "PIP_REQUIREMENT", "FileChange", "InitPlan", "apply_init", "plan_init"]
