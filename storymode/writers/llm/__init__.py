"""Writers backed by language models (OpenAI-compatible HTTP, transformers, llama.cpp) and their common code."""
