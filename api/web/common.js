"use strict"; // token, API fetch and the live stream, shared by both pages
