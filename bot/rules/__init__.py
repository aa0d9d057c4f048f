"""The Falco rules engine: Falco's verdict on rules files, with every problem and its position."""
