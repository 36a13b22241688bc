"""Sound shared by the narrators and the composer: WAV files, sample rates, resampling, loudness."""
