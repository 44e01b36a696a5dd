/* dpdist version. Part of the public API: include/dpdist/ holds only public headers. */
#ifndef DPDIST_VERSION_H
#define DPDIST_VERSION_H

#define DPDIST_VERSION_MAJOR 0
#define DPDIST_VERSION_MINOR 1
#define DPDIST_VERSION_PATCH 0
#define DPDIST_VERSION_STRING "0.1.0"

#endif
