import './base.css';
import './status.css';
