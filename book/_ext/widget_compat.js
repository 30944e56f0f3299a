/* Two adjustments that let the ipywidgets HTML manager run cleanly in this book.
 *
 * Served from the built book's _vendor/ folder by book/_ext/offline_widgets.py and loaded
 * before require.js and embed-amd.js on every page with widgets.
 *
 * 1. Where embed-amd.js lives. The bundle defines the AMD modules
 *    "@jupyter-widgets/html-manager/dist/embed-amd", "@jupyter-widgets/controls", ... and
 *    each derives the URL of its font files (Font Awesome, for widget icons) from the URL
 *    require.js gives its module name, by default below the page's own folder. The fonts are vendored next to embed-amd.js, so
 *    the module path is mapped to that folder: require.js reads a global `require` object
 *    defined before it loads as its configuration. Without this, every page with widgets
 *    logged three "Failed to load resource" errors.
 *
 * 2. MathJax 2's API on top of MathJax 3. embed-amd.js typesets widget labels with
 *    `if (window.MathJax !== undefined) MathJax.Hub.Queue(["Typeset", MathJax.Hub, el])`.
 *    The book loads MathJax 3, which has no `Hub`, so each label threw "Cannot read
 *    properties of undefined (reading 'Queue')". Whatever object `window.MathJax` holds
 *    gets a `Hub.Queue` that hands the element to MathJax 3's `typesetPromise` once
 *    MathJax has started; MathJax 3 replaces `window.MathJax` (its configuration object)
 *    with itself when it loads, so the property is wrapped to equip each new value.
 */
(function () {
  "use strict";

  // 1. require.js path of the html-manager bundle: this script's own folder
  var here = document.currentScript && document.currentScript.src;
  if (here && typeof window.require === "undefined") {
    var folder = here.slice(0, here.lastIndexOf("/"));
    window.require = {
      paths: {
        // the bundle itself and the widget modules it defines (base, controls, output, ...)
        "@jupyter-widgets/html-manager/dist": folder,
        "@jupyter-widgets": folder,
      },
    };
  }

  // 2. MathJax.Hub.Queue for MathJax 3
  var hub = {
    Queue: function (job) {
      var element = job && job[2];
      var run = function () {
        var mj = window.MathJax;
        if (mj && typeof mj.typesetPromise === "function") {
          return mj.typesetPromise(element ? [element] : undefined);
        }
        return undefined;
      };
      var mj = window.MathJax;
      var ready = mj && mj.startup && mj.startup.promise;
      var done = ready ? ready.then(run) : Promise.resolve().then(run);
      done.catch(function (err) {
        console.warn("MathJax could not typeset a widget label:", err);
      });
    },
  };
  var equip = function (value) {
    if (value && typeof value === "object" && !value.Hub) {
      try {
        // not enumerable: MathJax 3 copies its configuration's keys, and Hub is none
        Object.defineProperty(value, "Hub", { value: hub, configurable: true });
      } catch (err) {
        /* a frozen object: leave it */
      }
    }
    return value;
  };
  var current = equip(window.MathJax);
  var own = Object.getOwnPropertyDescriptor(window, "MathJax");
  if (own && !own.configurable) {
    return;
  }
  Object.defineProperty(window, "MathJax", {
    configurable: true,
    enumerable: true,
    get: function () {
      return current;
    },
    set: function (value) {
      current = equip(value);
    },
  });
})();
