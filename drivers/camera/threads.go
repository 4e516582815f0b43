package camera

/*
#cgo !windows pkg-config: opencv4
#cgo CXXFLAGS: --std=c++11
#include "threads.h"
*/
import "C"

// SetNumThreads sets the number of threads OpenCV's parallel regions use
// (cv::setNumThreads; gocv v0.31 has no binding). n = 1 runs every OpenCV
// call on the calling thread, which keeps a kiosk's face pipeline from
// competing with the UI on a small CPU; n < 0 restores OpenCV's default.
func SetNumThreads(n int) { C.eidkiosk_cv_set_num_threads(C.int(n)) }

// NumThreads reports OpenCV's current thread count (cv::getNumThreads).
func NumThreads() int { return int(C.eidkiosk_cv_get_num_threads()) }
