"""The Dear PyGui editor, installed as ``afx_graph.ui``. The engine never imports this.

``afx edit [PATCH]`` opens it. The parts, each small and with one concern:

* ``controller``  the editor's model, no dearpygui: the one Graph of the open patch (edited
                  only through the graph's API), undo/redo (``commands``), selection,
                  clipboard, files, autosave and recovery. Fully testable without a display.
* ``layout``      where nodes go (free spots, unplaced nodes, the layered Tidy), no dearpygui.
* ``preview``     the live preview on a background thread (``PreviewWorker``) with its play
                  head (``clock``); no dearpygui.
* ``app``         the window: wires dearpygui callbacks to the controller and the worker;
                  ``EditorApp`` is also the API tests drive the window with.
* ``fitting``     a look fitted to images on a background thread (``FitJob``, the code of
                  ``afx fit``) and put into the patch as one undo step; no dearpygui.
                  ``fit_dialog`` is its window (File > Fit a look from images...).
* ``nodes``, ``widgets``, ``palette``, ``preview_panel``, ``dialogs``, ``theme``: the
                  window's pieces, all built from the registry's node specs (a node family
                  registered later shows up with no change here).
"""
