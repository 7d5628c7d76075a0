#!/usr/bin/env python3
"""Writes checkpoint_os_system.pth: a torch.save-style zip archive whose pickle, when
unpickled by Python's pickle (as torch.load(weights_only=False) does), calls
os.system('touch qme_os_system_ran'). qme must refuse it without running anything.

Standard library only (no torch): the archive has torch.save's layout
(<name>/data.pkl, <name>/version), the pickle is protocol 2 as torch.save writes.
Run from this folder: python3 make_checkpoint_os_system.py
"""
import collections
import os
import pickle
import zipfile


class RunsCode:
    def __reduce__(self):
        return (os.system, ("touch qme_os_system_ran",))


def main():
    checkpoint = {"model_state_dict": collections.OrderedDict(), "payload": RunsCode()}
    data = pickle.dumps(checkpoint, protocol=2)
    assert b"system" in data
    with zipfile.ZipFile("checkpoint_os_system.pth", "w", zipfile.ZIP_STORED) as z:
        for name, payload in (("data.pkl", data), ("version", b"3\n")):
            info = zipfile.ZipInfo("checkpoint_os_system/" + name, date_time=(1980, 1, 1, 0, 0, 0))
            z.writestr(info, payload)


if __name__ == "__main__":
    main()
