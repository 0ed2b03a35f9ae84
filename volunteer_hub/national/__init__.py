"""The national volunteer record: MCA Order No. 67 export and import of volunteer numbers."""
