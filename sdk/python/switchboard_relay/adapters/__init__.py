"""Framework adapters mounting the nine webhook callbacks: `.fastapi` and `.django`."""
