"""TEST-ONLY stand-in for torchcodec (see tests/stubs_torchaudio/README.md): coqui-tts only
checks that the package can be found."""
