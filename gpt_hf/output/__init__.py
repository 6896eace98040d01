"""What every wing writes with, at the bottom of the house: output paths checked before any work and written
atomically, with disk-full errors as one line (`paths`), checkpoint folders and their completion marker
(`checkpoint_folders`), and the one plotting helper (`plotting`). It imports only the errors."""
