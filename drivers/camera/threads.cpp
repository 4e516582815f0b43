#include <opencv2/core.hpp>
#include "threads.h"

void eidkiosk_cv_set_num_threads(int n) { cv::setNumThreads(n); }
int eidkiosk_cv_get_num_threads(void) { return cv::getNumThreads(); }
