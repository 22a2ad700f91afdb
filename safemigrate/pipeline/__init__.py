"""The migrate pipeline: apply (shared by dry-run and migrate), rehearsal."""
