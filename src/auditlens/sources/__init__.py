"""Event sources: each yields raw batches of canonical-named columns plus a watermark."""
