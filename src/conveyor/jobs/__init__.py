"""Operations as serialisable job specs, run the same way by every runner."""
