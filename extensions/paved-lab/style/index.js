import './base.css';
import './status.css';
import './dataset.css';
import './promises.css';
