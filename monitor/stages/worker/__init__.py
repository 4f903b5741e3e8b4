"""The stream worker: the Faust app whose agents score news, update Redis windows, and hand alerts on."""
