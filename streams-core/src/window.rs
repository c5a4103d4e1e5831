//! Windows and windowed keys.
